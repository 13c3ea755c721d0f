"""The step x task matrix (``ckptlens scores --wide``): one row per (run, step), one column per task.

For people who want the numbers behind the score-by-size figures in a spreadsheet or a notebook: CSV or JSON on
stdout, a rich table in the terminal, or a self-contained HTML page. Read from the score curves of
``analysis.curves``, so imported task-level results (Pythia's published files) fill it as evaluated records do;
a task a run has no score for at a step is empty (null), never 0.

>>> import numpy as np
>>> from ckptlens.analysis.curves import Curve
>>> curves = [Curve("r", "arc", "qa", np.array([10, 20]), np.array([np.nan] * 2), np.array([0.5, 0.6])),
...           Curve("r", "piqa", "qa", np.array([20]), np.array([np.nan]), np.array([0.7]))]
>>> wide_rows(curves)
[{'run': 'r', 'step': 10, 'arc': 0.5, 'piqa': None}, {'run': 'r', 'step': 20, 'arc': 0.6, 'piqa': 0.7}]
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from ckptlens.analysis.curves import Curve, run_sizes, task_curves
from ckptlens.errors import CkptlensError
from ckptlens.report.html import Page
from ckptlens.report.tables import add_columns
from ckptlens.store import Store


def wide_rows(curves: Sequence[Curve], order: Sequence[str] | None = None) -> list[dict]:
    """Rows of the matrix: runs in ``order`` (by name when None), steps ascending, tasks by name."""
    tasks = sorted({c.task for c in curves})
    runs = list(order) if order else sorted({c.run for c in curves})
    values: dict[tuple[str, int], dict[str, float]] = {}
    for c in curves:
        for step, score in zip(c.steps.tolist(), c.scores.tolist()):
            values.setdefault((c.run, int(step)), {})[c.task] = float(score)
    keys = sorted(values, key=lambda k: (runs.index(k[0]) if k[0] in runs else len(runs), k[0], k[1]))
    return [{"run": run, "step": step, **{t: values[(run, step)].get(t) for t in tasks}} for run, step in keys]


def wide_scores(store: Store, runs: Sequence[str] | None = None, metric: str | None = None,
                categories: dict[str, str] | None = None) -> list[dict]:
    """The store's step x task matrix (``runs`` only, when given), runs by size then name."""
    curves = [c for c in task_curves(store, metric, categories) if not runs or c.run in runs]
    if not curves:
        which = f" of run {', '.join(runs)}" if runs else ""
        raise CkptlensError(f"--store {store.root}: no scores{which} to show; evaluate (`ckptlens eval`) or import "
                            "(`ckptlens import lm-eval`) into it first")
    sizes = run_sizes(store)
    order = sorted({c.run for c in curves}, key=lambda r: (sizes.get(r) is None, sizes.get(r) or 0, r))
    return wide_rows(curves, order)


def wide_rich_table(rows: Sequence[dict]) -> Table:
    """The matrix in the terminal (tasks as columns: wide stores read better as --format csv)."""
    columns = list(rows[0])
    table = Table(title="Score at each checkpoint, one column per task", title_justify="left")
    add_columns(table, columns, left=("run",))
    for row in rows:
        table.add_row(*("" if row[c] is None else f"{row[c]:.3f}" if isinstance(row[c], float) else str(row[c])
                        for c in columns))
    return table


def write_wide_html(rows: Sequence[dict], path: Path) -> Path:
    """The matrix as a self-contained HTML page (the table scrolls sideways inside the page when it is wide)."""
    page = Page("ckptlens: score at each checkpoint, per task")
    page.heading("Score at each checkpoint, per task", level=1)
    page.text(f"{len(rows)} (run, step) rows, {len(rows[0]) - 2} tasks; an empty cell: no score for that task at that "
              "step.")
    page.parts.append("<div style='overflow-x:auto'>")
    page.table(list(rows[0]), rows, left=("run",))
    page.parts.append("</div>")
    return page.write(path)
