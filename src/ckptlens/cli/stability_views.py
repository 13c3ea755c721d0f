"""``stability --phases K``, ``--span FROM:TO`` and ``--by kind``: the stability table through training and by
metric kind (``analysis.stability_phases``, ``analysis.by_kind``)."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from ckptlens.cli.options import TableFormat
from ckptlens.cli.output import emit
from ckptlens.errors import CkptlensError

if TYPE_CHECKING:
    from ckptlens.analysis.stability import StabilityConfig
    from ckptlens.store import Store



class StabilityBy(str, Enum):
    task = "task"
    category = "category"
    kind = "kind"  # 0/1- against continuous-scored tasks (``analysis.by_kind``)


PhasesOpt = Annotated[
    int | None, typer.Option("--phases", help="Rows per K equal spans of training (fractions of the last step).")
]
SpanOpt = Annotated[
    str | None, typer.Option("--span", help="One span of training: FROM:TO as fractions (0.2:0.4, 20%:40%) or steps.")
]
PHASE_COLUMNS = ("run", "phase", "first_step", "last_step", "method", "window", "n_tasks", "example_mtv",
                 "example_mtv_reduction", "instability_score", "instability_score_reduction")
SIDE_COLUMNS = ("run", "task", "method", "window", "example_mtv", "exact_match_example_mtv", "instability_score")
KIND_COLUMNS = ("run", "score_kind", "method", "window", "n_tasks", "mean_score", "example_mtv", "instability_score")


def spans_view(store: Store, config: StabilityConfig, fmt: TableFormat, phases: int | None, span: str | None,
               by: str = "task") -> None:
    """Every method's rows per phase (or in one span), then per phase the reduction of raw's instability;
    ``by`` kind: the metric-kind view (``kinds_view``)."""
    from ckptlens.analysis.spans import parse_span
    from ckptlens.analysis.stability_phases import phase_sweep, reductions
    from ckptlens.report.tables import stability_rich_table

    if phases is not None and span is not None:
        raise CkptlensError("give either --phases K or --span FROM:TO, not both")
    if by != "task" and (phases is not None or span is not None):
        raise CkptlensError(f"--phases and --span give rows per task and phase; drop --by {by}")
    if by == "kind":
        return kinds_view(store, config, fmt)
    rows = phase_sweep(store, config, phases, parse_span(span) if span else None).rows
    summary = reductions(rows)
    title = f"Instability per phase ({phases} equal spans of training)" if phases else f"Instability over span {span}"
    emit(fmt, [r.to_dict() for r in rows],
         lambda: [stability_rich_table(rows), dict_table(title, [s.to_dict() for s in summary], PHASE_COLUMNS)])


def kinds_view(store: Store, config: StabilityConfig, fmt: TableFormat) -> None:
    """Means over 0/1- and continuous-scored tasks, and each continuous generative task against its 0/1 view."""
    from ckptlens.analysis.by_kind import exact_match_view_rows, kind_summary, left_out, side_by_side
    from ckptlens.analysis.matrix import read_matrices
    from ckptlens.analysis.stability import stability_sweep

    loaded = read_matrices(store, config.categories, config.metric)
    rows = stability_sweep(store, config, loaded).rows
    views = exact_match_view_rows(store, config, loaded)
    summary = kind_summary(rows, views)
    side = side_by_side(rows, views)
    emit(fmt, summary, lambda: [
        dict_table("Stability by metric kind, mean over tasks", summary, KIND_COLUMNS), *left_out(rows, views),
        dict_table("Continuous metric against its exact-match view of the same outputs", side, SIDE_COLUMNS)
        if side else "No generative task with a continuous metric (char_f1, BLEU, ...): no exact-match view to set "
                     "beside it.",
    ])


def dict_table(title: str, rows: list[dict], columns: tuple[str, ...]):
    """A rich table of ``columns`` of ``rows``; numbers to 4 decimals, missing as '-'."""
    from rich.table import Table

    from ckptlens.report.tables import add_columns

    table = Table(title=title, title_justify="left")
    add_columns(table, columns, left=columns[:2])
    for row in rows:
        table.add_row(*(_cell(row.get(c)) for c in columns))
    return table


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
