"""Write the report folder: ``report.html`` (self-contained), PNG figures, CSV and JSON tables.

>>> write_report(Store("demo-out/store"), "demo-out/report")  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from ckptlens.analysis.compare import neighbour_comparisons
from ckptlens.analysis.examples import CLASSES, example_view
from ckptlens.analysis.matrix import TaskMatrix, task_matrices
from ckptlens.analysis.selection import SelectConfig, Selection, select_checkpoints
from ckptlens.analysis.stability import StabilityConfig, StabilityRow, averaged_runs, stability_sweep, summarise
from ckptlens.analysis.trajectories import trajectories
from ckptlens.checkpoints import last_fraction
from ckptlens.report.failures import add_adaptive_section, add_failures_section
from ckptlens.report.figures import example_heatmap, loss_figure, trajectory_figure
from ckptlens.report.html import Page
from ckptlens.report.linearity import add_linearity_section
from ckptlens.report.study import add_study_section
from ckptlens.report.tables import TABLE_COLUMNS, summary_order, window_label, write_csv, write_json
from ckptlens.store import Store


@dataclass(frozen=True)
class ReportConfig:
    stability: StabilityConfig = StabilityConfig()
    plot_windows: tuple[int, ...] = (4, 8)  # averaged/ensembled windows drawn next to raw
    select_window: int = 4  # window of the smoothed selection rules


@dataclass(frozen=True)
class Report:
    html: Path
    rows: list[StabilityRow]
    summary: list[dict]
    selections: list[Selection]


def write_report(store: Store, out: str | Path, config: ReportConfig = ReportConfig()) -> Report:
    """Compute the stability table, trajectories, example views and selections; write them all under ``out``."""
    out = Path(out)
    sweep = stability_sweep(store, config.stability)
    rows = sweep.rows
    summary = summarise(rows)
    by_category = summarise(rows, ("run", "category", "method", "window"))
    base_runs, _ = averaged_runs(store)
    matrices = [m for m in task_matrices(store.read(), config.stability.metric) if m.run in base_runs]
    selections = select_checkpoints(store, _select_config(config)) if matrices else []
    noise = _neighbour_noise(matrices, config.stability.last)
    points = trajectories(store, config.plot_windows)
    write_json([r.to_dict() for r in rows], out / "stability.json")
    write_csv([r.to_dict() for r in rows], out / "stability.csv")
    write_csv(summary, out / "summary.csv")
    write_csv(by_category, out / "summary_by_category.csv")
    write_csv([s.to_dict() for s in selections], out / "selection.csv")
    write_csv(noise, out / "neighbour_changes.csv")
    write_csv([asdict(p) for p in points], out / "trajectories.csv")

    page = Page("ckptlens report")
    page.text(
        f"Stability over the final {config.stability.last:.0%} of training (by step). Scores and MTVs are "
        "fractions; [lo, hi] columns are 95% bootstrap intervals over examples. Tasks near chance are marked "
        "and left out of the means over tasks."
    )
    page.heading("Mean over tasks")
    page.table(["run", "method", "window", "n_tasks", *TABLE_COLUMNS], _labelled(sorted(summary, key=summary_order)))
    add_failures_section(page, sweep, out)
    add_adaptive_section(page, sweep, config.stability.adaptive, out)
    page.heading("Mean over tasks, per capability category")
    page.table(["run", "category", "method", "window", "n_tasks", *TABLE_COLUMNS],
               _labelled(sorted(by_category, key=summary_order)))
    page.heading("Score trajectories")
    for title, path in _trajectory_figures(rows, points, out / "figures") + _loss_figures(store, out / "figures"):
        page.figure(path, title)
    add_study_section(page, store, rows, points, matrices, out)
    add_linearity_section(page, store, base_runs, config.stability.last, out)
    page.heading("Neighbour changes beyond noise")
    page.text("Exact McNemar test between neighbouring checkpoints in the window (5% level): most moves of the "
              "score between neighbours are within what the task's size can tell apart.")
    page.table(["run", "task", "transitions", "significant", "median_abs_change", "min_detectable_difference"], noise)
    page.heading("Checkpoint selection")
    page.text("Each rule picks on a random half of the examples; the picked checkpoint is scored on the other half. "
              "wins/losses: how often its held-out score beats / trails the raw rule's pick.")
    page.table(["run", "task", "rule", "window", "selected_step", "selected_score", "held_out_score", "win_rate",
                "loss_rate", "mean_gain"], [s.to_dict() for s in selections])
    page.heading("Examples that flip")
    for view, path in _example_figures(matrices, config.stability.last, out / "figures"):
        page.figure(path, f"{view.run} / {view.task}")
        page.table(list(CLASSES), [{c: f"{v:.1%}" for c, v in view.class_fractions().items()}])
    page.heading("Stability table")
    page.table(
        ["run", "task", "category", "method", "window", "n_checkpoints", "first_step", "last_step", *TABLE_COLUMNS,
         "example_mtv_lo", "example_mtv_hi", "relative_std", "monotonicity", "flip_fraction", "forgetting_events",
         "near_chance"],
        [r.to_dict() for r in rows],
    )
    html = page.write(out / "report.html")
    return Report(html, rows, summary, selections)


def _labelled(summary: list[dict]) -> list[dict]:
    """Summary rows as shown: adaptive methods' window reads "per task"."""
    return [{**row, "window": window_label(row["window"])} for row in summary]


def _trajectory_figures(rows: list[StabilityRow], points, folder: Path) -> list[tuple[str, Path]]:
    figures = []
    for row in rows:
        pts = [p for p in points if p.run == row.run and p.task == row.task]
        if row.method != "raw" or not pts:
            continue
        title = f"{row.run} / {row.task}" + (" (near chance)" if row.near_chance else "")
        figures.append((title, trajectory_figure(pts, row.first_step, folder / f"{row.run}__{row.task}.png", title)))
    return figures


def _loss_figures(store: Store, folder: Path) -> list[tuple[str, Path]]:
    figures = []
    for run in store.runs():
        info = store.run_info(run)
        if info.get("loss_curve") and not info.get("averaged_from"):
            title = f"{run}: training and validation loss"
            figures.append((title, loss_figure(info["loss_curve"], folder / f"{run}__loss.png", title)))
    return figures


def _example_figures(matrices: list[TaskMatrix], last: float, folder: Path):
    views = [example_view(m, last) for m in matrices]
    return [(v, example_heatmap(v, folder / f"{v.run}__{v.task}__examples.png")) for v in views]


def _neighbour_noise(matrices: list[TaskMatrix], last: float) -> list[dict]:
    """Per task: how many neighbour-to-neighbour changes in the window a paired test calls real."""
    rows = []
    for matrix in matrices:
        tests = neighbour_comparisons(matrix.select_steps(last_fraction(matrix.steps, last)))
        changes = sorted(abs(t.difference) for t in tests)
        rows.append({
            "run": matrix.run, "task": matrix.task, "transitions": len(tests),
            "significant": sum(t.significant for t in tests), "median_abs_change": changes[len(changes) // 2],
            "min_detectable_difference": tests[0].min_detectable_difference,
        })
    return rows


def _select_config(config: ReportConfig) -> SelectConfig:
    return SelectConfig(last=config.stability.last, window=config.select_window, metric=config.stability.metric)
