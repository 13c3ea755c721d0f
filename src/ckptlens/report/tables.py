"""The stability table as rich terminal output and as CSV/JSON files."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import TextIO

from rich.table import Table

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX
from ckptlens.analysis.selection import Selection
from ckptlens.analysis.stability import CI_FIELDS, StabilityRow
from ckptlens.files import write_text_atomic

TABLE_COLUMNS = ("mean_score", "task_mtv", "example_mtv", "instability_score", "std")
# Terminal headers: short, defined in the caption of every table that uses them; CSV/JSON keep the full names.
HEADERS = {"mean_score": "score", "task_mtv": "task MTV", "example_mtv": "ex. MTV", "instability_score": "IS"}
HEADER_KEY = ("score: mean task score; task MTV / ex. MTV: mean total variation of the task score / of each "
              "example's correctness; IS: instability score (answer changes); std: of the task score")


def add_columns(table: Table, names: Sequence[str], left: Sequence[str] = ()) -> Table:
    """Columns that fold a long name or value onto a second line instead of cutting it (``instabilit…``)."""
    for name in names:
        table.add_column(HEADERS.get(name, name), justify="left" if name in left else "right", overflow="fold")
    return table


def summary_table(summary: list[dict], title: str = "Final-window stability, mean over tasks") -> Table:
    """Raw vs averaged vs ensembled, one line per (run, [category,] method, window)."""
    keys = ("run", "category", "method") if summary and "category" in summary[0] else ("run", "method")
    table = Table(title=title, title_justify="left", caption=HEADER_KEY, caption_justify="left")
    add_columns(table, (*keys, "window", "tasks", *TABLE_COLUMNS), left=keys)
    for row in sorted(summary, key=summary_order):
        table.add_row(
            *(row[k] for k in keys), window_label(row["window"]), str(row["n_tasks"]),
            *(_fmt(row[c]) for c in TABLE_COLUMNS),
        )
    return table


def selection_table(rows: Sequence[Selection]) -> Table:
    """Which checkpoint each rule picks, and how its pick does on held-out halves against raw's pick."""
    table = Table(title="Checkpoint selection (held-out: other half of the examples)", title_justify="left")
    add_columns(table, ("run", "task", "rule", "n", "step", "score", "held-out", "wins", "losses", "mean gain"),
                left=("run", "task", "rule"))
    for r in rows:
        table.add_row(
            r.run, r.task, r.rule, str(r.window), str(r.selected_step), _fmt(r.selected_score),
            _fmt(r.held_out_score), f"{r.win_rate:.0%}", f"{r.loss_rate:.0%}", f"{r.mean_gain:+.4f}",
        )
    return table


def scores_rich_table(rows: Sequence[dict]) -> Table:
    """Score per step of each task (``task`` rows) or category (size-weighted over its tasks' examples)."""
    by = "task" if rows and "task" in rows[0] else "category"
    title = ("Score at each checkpoint" if by == "task" else
             "Score at each checkpoint per category: the mean over all its tasks' examples (lm-eval's group score)")
    table = Table(title=title, title_justify="left")
    count = ("examples",) if by == "task" else ("tasks", "examples")
    named = any(r.get("metric") for r in rows)  # lm-eval's metric,filter: says which filter a bare name took
    add_columns(table, ("run", by, *(("metric",) if named else ()), "step", "score", *count),
                left=("run", by, "metric"))
    for r in rows:
        table.add_row(r["run"], r[by], *([r.get("metric") or ""] if named else []), str(r["step"]), _fmt(r["score"]),
                      *([] if by == "task" else [str(r["n_tasks"])]), str(r["n_examples"]))
    return table


def stability_rich_table(rows: Sequence[StabilityRow]) -> Table:
    """Every row of the stability table; near-chance tasks marked, and a shared span said under the table."""
    spans = sorted({f"{r.run}/{r.task}: {note}" for r in rows for note in (r.note or "").split("; ")
                    if note.startswith("every method")})
    caption = "\n".join([HEADER_KEY, "n: window; ckpts: checkpoints scored; (near chance): left out of means, "
                          "why in the note column of --format csv/json", *spans])
    table = Table(title="Stability over the final window", title_justify="left", caption=caption,
                  caption_justify="left")
    add_columns(table, ("run", "task", "method", "n", "ckpts", *TABLE_COLUMNS), left=("run", "task", "method"))
    for r in rows:
        task = f"{r.task} (near chance)" if r.near_chance else r.task
        table.add_row(
            r.run, task, r.method, str(r.window), str(r.n_checkpoints),
            *(_fmt(getattr(r, c)) for c in TABLE_COLUMNS),
        )
    return table


def write_csv(rows: Sequence[dict], target: Path | TextIO, columns: Sequence[str] | None = None) -> None:
    """Rows as CSV (null as an empty field) to a file path (atomically) or an open text stream.

    The header is ``columns``, else the first row's keys; a table that can be empty must name its columns,
    so that an empty table is still a header, never a 0-byte file.
    """
    if isinstance(target, Path):
        text = io.StringIO(newline="")
        write_csv(rows, text, columns)
        write_text_atomic(target, text.getvalue())
        return
    if columns is None and not rows:
        return
    writer = csv.DictWriter(target, fieldnames=list(columns or rows[0]))
    writer.writeheader()
    writer.writerows({k: "" if v is None else v for k, v in r.items()} for r in rows)


def field_names(cls) -> list[str]:
    """The columns of a dataclass's rows (``to_dict`` keys): the header of its CSV when there are no rows."""
    return [f.name for f in fields(cls)]


def write_json(obj, path: Path) -> Path:
    return write_text_atomic(path, json.dumps(obj, indent=2) + "\n")


def summary_order(row: dict):
    """Raw first, then methods by name and window, each adaptive method after its fixed windows."""
    method = row["method"]
    adaptive = method.startswith(ADAPTIVE_PREFIX)
    fixed = method.removeprefix(ADAPTIVE_PREFIX)
    return (row["run"], row.get("category", ""), method != "raw", fixed, adaptive, row["window"] or 0)


def window_label(window: int | None) -> str:
    """A summary's window: adaptive methods choose theirs per task."""
    return "per task" if window is None else str(window)


def size_label(n: int | None) -> str:
    """Parameters, short: 70M, 1.4B.

    >>> size_label(70_000_000), size_label(1_400_000_000), size_label(None)
    ('70M', '1.4B', '–')
    """
    if n is None:
        return "–"
    return f"{n / 1e9:.3g}B" if n >= 1e9 else f"{n / 1e6:.3g}M"


def _fmt(value) -> str:
    return "-" if value is None else f"{value:.3f}"


def with_interval(value: float | None, lo: float | None, hi: float | None) -> str:
    """A number and its 95% interval in one table cell; the number alone when there is no interval.

    >>> with_interval(0.8741, 0.85, 0.9), with_interval(0.5, None, None), with_interval(None, None, None)
    ('0.874 [0.850, 0.900]', '0.500', '–')
    """
    if value is None:
        return "–"
    return f"{value:.3f}" if lo is None or hi is None else f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def stability_cells(row: StabilityRow, label: str) -> dict:
    """One stability row as the page shows it: the task (labelled), method, window and numbers with intervals."""
    cells = {"task": label, "method": row.method, "window": row.window, "checkpoints": row.n_checkpoints,
             "std": row.std}
    for name in CI_FIELDS:
        value = getattr(row, name)
        cells[name] = with_interval(value, getattr(row, f"{name}_lo"), getattr(row, f"{name}_hi"))
    return cells


STABILITY_HEADERS = {"mean_score": "mean score", "task_mtv": "task MTV", "example_mtv": "example MTV",
                     "instability_score": "IS", "checkpoints": "ckpts"}
