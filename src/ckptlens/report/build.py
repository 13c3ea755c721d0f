"""Write the report folder: ``report.html`` (self-contained), PNG figures, CSV and JSON tables.

The page answers one question: which checkpoint should I trust, and how unstable is my evaluation? At the top,
the run, its final window and a verdict computed from the numbers; then raw against averaged and ensembled score
curves per task, the stability table with its intervals, and the definition of every number. Everything else sits
in sections that fold away, listed in ``SECTIONS``: each is a function ``(page, data) -> None`` that opens its
section with ``page.section(title, question)`` and fills it from ``data`` (``report.data.ReportData``: the store
read once and every analysis of it). To add a section, write such a function and append it to ``SECTIONS``.

>>> report = write_report(Store("store"), "report")
>>> report.html.name, {"raw", "average", "ensemble-vote"} <= {row.method for row in report.rows}
('report.html', True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX
from ckptlens.analysis.selection import Selection
from ckptlens.analysis.stability import StabilityRow, summarise
from ckptlens.analysis.trajectories import TrajectoryPoint
from ckptlens.report.by_size import size_figures
from ckptlens.report.data import ReportConfig, ReportData, analyse
from ckptlens.report.definitions import definitions
from ckptlens.report.failures import adaptive_section, failures_section
from ckptlens.report.figures import trajectory_figure
from ckptlens.report.findings import findings_section
from ckptlens.report.forecast import forecast_section
from ckptlens.report.html import Page
from ckptlens.report.linearity import linearity_section
from ckptlens.report.probability_dynamics import dynamics_section
from ckptlens.report.representations import representations_section
from ckptlens.report.sections import (
    best_section,
    category_section,
    examples_section,
    files_section,
    group_section,
    loss_section,
    more_numbers_section,
    neighbour_noise,
    selection_section,
)
from ckptlens.report.stability_phases import phases_section
from ckptlens.report.study import study_section
from ckptlens.report.tables import (
    STABILITY_HEADERS,
    field_names,
    stability_cells,
    write_csv,
    write_json,
)
from ckptlens.report.top import SUMMARY_KEYS, top
from ckptlens.report.verdict import BestCheckpoint
from ckptlens.report.wide import wide_rows
from ckptlens.store import Store

__all__ = ["SECTIONS", "Report", "ReportConfig", "write_report"]

TITLE = "Which checkpoint should I trust, and how unstable is my evaluation?"
SECTIONS: tuple[Callable[[Page, ReportData], None], ...] = (
    best_section, selection_section, adaptive_section, failures_section, linearity_section, examples_section,
    category_section, group_section, study_section, findings_section, phases_section, dynamics_section,
    representations_section, more_numbers_section, loss_section, forecast_section, files_section,
)
TABLE_KEYS = ("task", "method", "window", "checkpoints", "mean_score", "task_mtv", "example_mtv", "instability_score",
              "std")


@dataclass(frozen=True)
class Report:
    html: Path
    rows: list[StabilityRow]
    summary: list[dict]
    selections: list[Selection]


def write_report(store: Store, out: str | Path, config: ReportConfig = ReportConfig()) -> Report:
    """Read the store once, compute every analysis, and write the page, its figures and its tables under ``out``."""
    data = analyse(store, config, Path(out))
    summary = data.summary
    _write_tables(data, summary)
    page = Page("ckptlens: " + TITLE)
    top(page, data, TITLE)
    size_figures(page, data)
    _curves(page, data)
    _stability_table(page, data)
    page.heading("What the numbers mean")
    intervals = any(r.mean_score_lo is not None for r in data.rows)
    page.definitions(definitions({r.method for r in data.rows}, data.last, intervals))
    page.heading("More detail")
    for add_section in SECTIONS:
        add_section(page, data)
    return Report(page.write(data.out / "report.html"), data.rows, summary, data.selections)


def _write_tables(data: ReportData, summary: list[dict]) -> None:
    """The page's tables in full, each with its header even when it has no rows."""
    out = data.out
    rows = [r.to_dict() for r in data.rows]
    write_json(rows, out / "stability.json")
    write_csv(rows, out / "stability.csv", field_names(StabilityRow))
    write_csv(summary, out / "summary.csv", SUMMARY_KEYS)
    write_csv(summarise(data.rows, ("run", "category", "method", "window")), out / "summary_by_category.csv",
              ("run", "category", *SUMMARY_KEYS[1:]))
    write_csv([s.to_dict() for s in data.selections], out / "selection.csv", field_names(Selection))
    write_csv([b.to_dict() for b in data.best], out / "best_checkpoints.csv", field_names(BestCheckpoint))
    write_csv(neighbour_noise(data), out / "neighbour_changes.csv",
              ("run", "task", "transitions", "significant", "median_abs_change", "min_detectable_difference"))
    write_csv([p.to_dict() for p in data.points], out / "trajectories.csv", field_names(TrajectoryPoint))
    wide = wide_rows(data.curves, data.runs())
    write_csv(wide, out / "scores_wide.csv", list(wide[0]) if wide else ("run", "step"))
    write_csv(data.group_scores, out / "group_scores.csv",
              ("run", "category", "step", "score", "n_tasks", "n_examples", "metric"))


def _curves(page: Page, data: ReportData) -> None:
    """One figure per task: raw over all of training, then raw against each method's windows in the final window."""
    raw = sorted((r for r in data.rows if r.method == "raw"), key=lambda r: (r.near_chance, r.run, r.task))
    drawn = [r for r in raw if any(p.run == r.run and p.task == r.task for p in data.points)]
    if not drawn:
        return
    page.heading("Raw against averaged and ensembled scores")
    page.text("Per task, left: the raw score over all of training with the final window shaded; then, inside the "
              "final window, the raw checkpoints (black) against each window of each method. A steadier line at the "
              "same height is what averaging and ensembling are for.")
    for row in drawn:
        points = [p for p in data.points if p.run == row.run and p.task == row.task]
        picks = {r.method: r.window for r in data.rows
                 if (r.run, r.task) == (row.run, row.task) and r.method.startswith(ADAPTIVE_PREFIX)}
        title = f"{row.run} / {row.task}" + (" (near chance)" if row.near_chance else "")
        methods = sorted({f"{p.method} of {p.window}" for p in points if p.method != "raw"})
        alt = (f"{title}: task score by training step, raw checkpoints over all of training, and in the final window "
               f"(steps {row.first_step}–{row.last_step}) raw against {', '.join(methods) or 'nothing else'}")
        path = data.figures / f"{row.run}__{row.task}.png"
        page.figure(trajectory_figure(points, (row.first_step, row.last_step), picks, path, title), alt)


def _stability_table(page: Page, data: ReportData) -> None:
    """Per task and method over the final window, for the tasks of the means; the others fold away below."""
    rows = [r for r in data.rows if not r.method.startswith(ADAPTIVE_PREFIX)]
    if not rows:
        return
    page.heading("Stability per task")
    shown = data.taskset.rows(rows)
    intro = "One row per task and method over the final window, for the tasks of the means (all in stability.csv)."
    if any(r.mean_score_lo is not None for r in rows):
        intro += " [lo, hi] after a number is its 95% bootstrap interval over examples."
    page.text(intro)
    few = sorted({r.n_checkpoints for r in rows if r.n_checkpoints < 3})
    if few:
        page.warning(f"Some rows cover only {', '.join(map(str, few))} checkpoint(s) (ckpts column): their MTV and IS "
                     "come from a single difference, too few to judge a window.")
    _task_rows(page, data, shown)
    others = [r for r in rows if r not in shown]
    if others:
        section = page.section(f"Tasks left out of the means ({len({(r.run, r.task) for r in others})})",
                               "How do the tasks near chance, or not shared by every run, behave?")
        section.text("Their flips are guessing (near chance) or cannot be compared across runs; the note column of "
                     "stability.csv says why for each.")
        _task_rows(section, data, others)


def _task_rows(block, data: ReportData, rows: list[StabilityRow]) -> None:
    multi_run = len(data.runs()) > 1
    order = {run: i for i, run in enumerate(data.runs())}
    cells, previous = [], None
    for row in sorted(rows, key=lambda r: (order[r.run], *_table_order(r)[2:])):
        label = (f"{row.run} / {row.task}" if multi_run else row.task) + (" (near chance)" if row.near_chance else "")
        cells.append({**stability_cells(row, label if (row.run, row.task) != previous else ""),
                      "_group": (row.run, row.task) != previous})
        previous = (row.run, row.task)
    keys = [k for k in TABLE_KEYS if any(c[k] not in (None, "–") for c in cells)]
    block.table(keys, cells, STABILITY_HEADERS)


def _table_order(row: StabilityRow):
    """Learned tasks first, then by task; within a task raw, averages, then each ensemble rule, by window."""
    return (row.near_chance, row.run, row.task, row.method != "raw", row.method != "average", row.method, row.window)
