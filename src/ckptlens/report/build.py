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
from ckptlens.report.data import ReportConfig, ReportData, analyse
from ckptlens.report.definitions import definitions
from ckptlens.report.failures import adaptive_section, failures_section, learned_flag_count
from ckptlens.report.figures import trajectory_figure
from ckptlens.report.forecast import forecast_section
from ckptlens.report.html import Page
from ckptlens.report.linearity import linearity_section
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
from ckptlens.report.study import study_section
from ckptlens.report.tables import (
    STABILITY_HEADERS,
    TABLE_COLUMNS,
    field_names,
    stability_cells,
    summary_order,
    window_label,
    write_csv,
    write_json,
)
from ckptlens.report.verdict import BestCheckpoint, verdict
from ckptlens.store import Store

__all__ = ["SECTIONS", "Report", "ReportConfig", "write_report"]

TITLE = "Which checkpoint should I trust, and how unstable is my evaluation?"
SECTIONS: tuple[Callable[[Page, ReportData], None], ...] = (
    best_section, selection_section, adaptive_section, failures_section, linearity_section, examples_section,
    category_section, group_section, study_section, more_numbers_section, loss_section, forecast_section,
    files_section,
)
SUMMARY_KEYS = ("run", "method", "window", "n_tasks", *TABLE_COLUMNS)
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
    summary = summarise(data.rows)
    _write_tables(data, summary)
    page = Page("ckptlens: " + TITLE)
    _top(page, data, summary)
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
    write_csv(data.group_scores, out / "group_scores.csv",
              ("run", "category", "step", "score", "n_tasks", "n_examples", "metric"))


def _top(page: Page, data: ReportData, summary: list[dict]) -> None:
    """Per run: what was measured, and the verdict; then the means over tasks."""
    page.heading(TITLE, level=1)
    runs = data.runs()
    if not runs:
        page.box("The store has no rows to judge: evaluate a series into it first (`ckptlens eval SERIES --tasks ... "
                 "--store STORE`).", "verdict")
        return
    for run in runs:
        rows = [r for r in data.rows if r.run == run]
        page.facts(_facts(data, run, rows))
        best = [b for b in data.best if b.run == run]
        page.box(verdict(rows, best, [s for s in data.selections if s.run == run]), "verdict")
    flagged = learned_flag_count(data.sweep)
    if flagged:
        page.warning(f"{flagged} (task, method, window) combination(s) of tasks that learned trail a rising score or "
                     "score below their members: see Where integration fails, below.")
    page.heading("Mean over tasks")
    page.text("Each method's numbers averaged over the tasks that learned (near-chance tasks left out) and that every "
              "method covers; adaptive methods choose their window per task. Lower MTV, IS and std mean a steadier "
              "evaluation.")
    shown = [{**r, "window": window_label(r["window"])} for r in sorted(summary, key=summary_order)]
    keys = SUMMARY_KEYS if len(runs) > 1 else SUMMARY_KEYS[1:]
    page.table(keys, shown, {"n_tasks": "tasks", **STABILITY_HEADERS})


def _facts(data: ReportData, run: str, rows: list[StabilityRow]) -> list[tuple[str, str]]:
    raw = [r for r in rows if r.method == "raw"]
    first, last = min(r.first_step for r in raw), max(r.last_step for r in raw)
    checkpoints = sorted({r.n_checkpoints for r in raw})
    counts = str(checkpoints[0]) if len(checkpoints) == 1 else f"{checkpoints[0]}–{checkpoints[-1]}"
    near = [r.task for r in raw if r.near_chance]
    tasks = ", ".join(r.task for r in raw) + (f" (near chance: {', '.join(near)})" if near else "")
    averages = sorted(n for (base, n) in data.averaged if base == run)
    compared = ["raw checkpoints"]
    if averages:
        compared.append("averages of " + ", ".join(map(str, averages)) + " checkpoints (evaluated)")
    rules = sorted({r.method.removeprefix("ensemble-") for r in rows if r.method.startswith("ensemble-")})
    if rules:
        compared.append(f"ensembles ({', '.join(rules)}) of {', '.join(map(str, _windows(rows, 'ensemble-')))}")
    if any(r.method.startswith(ADAPTIVE_PREFIX) for r in rows):
        compared.append("adaptive windows")
    series = data.store.info(run).series
    return [
        ("Run", run + (f" (series {series})" if series else "")),
        ("Final window", f"the last {data.last:.0%} of training: steps {first}–{last}, {counts} checkpoints"),
        ("Tasks", tasks),
        ("Compared", "; ".join(compared)),
    ]


def _windows(rows: list[StabilityRow], prefix: str) -> list[int]:
    return sorted({r.window for r in rows if r.method.startswith(prefix)})


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
    """Per task and method, over the final window; adaptive rows are in their own section."""
    rows = [r for r in data.rows if not r.method.startswith(ADAPTIVE_PREFIX)]
    if not rows:
        return
    page.heading("Stability per task")
    intro = "One row per task and method over the final window, as in stability.csv."
    if any(r.mean_score_lo is not None for r in rows):
        intro += " [lo, hi] after a number is its 95% bootstrap interval over examples."
    if any(r.near_chance for r in rows):
        intro += " Tasks near chance come last; their flips are guessing."
    page.text(intro)
    few = sorted({r.n_checkpoints for r in rows if r.n_checkpoints < 3})
    if few:
        page.warning(f"Some rows cover only {', '.join(map(str, few))} checkpoint(s) (ckpts column): their MTV and IS "
                     "come from a single difference, too few to judge a window.")
    multi_run = len(data.runs()) > 1
    cells, previous = [], None
    for row in sorted(rows, key=_table_order):
        label = (f"{row.run} / {row.task}" if multi_run else row.task) + (" (near chance)" if row.near_chance else "")
        cells.append({**stability_cells(row, label if (row.run, row.task) != previous else ""),
                      "_group": (row.run, row.task) != previous})
        previous = (row.run, row.task)
    page.table(TABLE_KEYS, cells, STABILITY_HEADERS)


def _table_order(row: StabilityRow):
    """Learned tasks first, then by task; within a task raw, averages, then each ensemble rule, by window."""
    return (row.near_chance, row.run, row.task, row.method != "raw", row.method != "average", row.method, row.window)
