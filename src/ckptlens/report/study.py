"""The instability study's figures (Nishida et al., 2025), so a user's run can sit beside the paper's tables.

- **Window size**: per run and category, example MTV and instability score against the window size (1 = raw),
  for averaging and each ensemble rule (``--windows 1,2,5,10,20`` gives the paper's sizes);
- **Final-window trajectories**: per run and category, the mean score over the category's tasks by step in the
  stability window, raw against each integrated method;
- **llm-jp-eval scores**: per run and checkpoint each dataset's score, each category's and the overall average,
  computed as llm-jp-eval does (``tasks.llm_jp_eval.category_scores``), beside the paper's tables;
- **By size**: when several runs know their size (``--size``, or a size in the run name such as ``-1.8b``),
  each category's raw example MTV and IS across sizes: does scale reduce instability?

Means are over every task of a category, near-chance tasks included, as the study averages them. Each figure
is also written as a CSV table beside the PNG.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from statistics import fmean

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckptlens.analysis.curves import run_sizes  # noqa: E402
from ckptlens.analysis.matrix import TaskMatrix  # noqa: E402
from ckptlens.analysis.stability import StabilityRow, summarise  # noqa: E402
from ckptlens.analysis.trajectories import TrajectoryPoint  # noqa: E402
from ckptlens.report.data import ReportData  # noqa: E402
from ckptlens.report.figures import save_figure  # noqa: E402
from ckptlens.report.html import Block, Page  # noqa: E402
from ckptlens.report.tables import write_csv  # noqa: E402
from ckptlens.store import Store  # noqa: E402
from ckptlens.tasks.comet import COMET  # noqa: E402
from ckptlens.tasks.llm_jp_eval import CATEGORIES, category_scores, dataset_score  # noqa: E402

MEASURES = (("example_mtv", "example MTV"), ("instability_score", "instability score"))
BY = ("run", "category", "method", "window")


def study_section(page: Page, data: ReportData) -> None:
    """The study's views as a section of the report that folds away (``report.build.SECTIONS``)."""
    section = page.section("The instability study's views",
                           "How do example MTV and IS change with the window size, per category, and across model "
                           "sizes?")
    matrices = [m for (run, _), m in sorted(data.matrices.items()) if run in data.base_runs]
    add_study_section(section, data.store, data.rows, data.points, matrices, data.out)


def add_study_section(page: Block, store: Store, rows: list[StabilityRow], points: list[TrajectoryPoint],
                      matrices: list[TaskMatrix], out: Path) -> None:
    """The study views as figures and CSV tables under ``out``, on ``page`` (a page or one of its sections)."""
    by_category = category_means(rows)
    if not by_category:
        return
    page.text("Means over every task of a category (near-chance tasks included, as the study averages them). "
              "Tables: study_window_size.csv, study_trajectories.csv, study_scores.csv, study_by_size.csv.")
    scores = llm_jp_eval_scores(matrices)
    if scores:
        write_csv(scores, out / "study_scores.csv")
        last = [r for r in scores if r["step"] == max(s["step"] for s in scores if s["run"] == r["run"])]
        page.text("llm-jp-eval scores at each run's last checkpoint (category: unweighted mean of its datasets; "
                  "AVG: mean over categories; jsts left out):")
        page.table(["run", "step", "name", "score"], last)
    mt_note = mt_scoring_note(matrices)
    if mt_note:
        page.warning(mt_note)
    write_csv(by_category, out / "study_window_size.csv")
    for run in sorted({r["run"] for r in by_category}):
        title = f"{run}: example MTV and instability score against window size, per category"
        page.figure(window_size_figure([r for r in by_category if r["run"] == run],
                                       out / "figures" / f"{run}__study_window_size.png", title), title)
    trajectory_rows = category_trajectories(rows, points)
    write_csv(trajectory_rows, out / "study_trajectories.csv")
    for run in sorted({r["run"] for r in trajectory_rows}):
        title = f"{run}: final-window score by category, raw against integrated"
        page.figure(category_trajectory_figure([r for r in trajectory_rows if r["run"] == run],
                                               out / "figures" / f"{run}__study_trajectories.png", title), title)
    sized = by_size(by_category, run_sizes(store))
    if len({r["n_params"] for r in sized}) >= 2:
        write_csv(sized, out / "study_by_size.csv")
        page.table(["category", "n_params", "run", "example_mtv", "instability_score"], sized)
        title = "Raw example MTV and instability score across model sizes, per category"
        page.figure(size_figure(sized, out / "figures" / "study_by_size.png", title), title)


def mt_scoring_note(matrices: list[TaskMatrix]) -> str:
    """What the report says when MT datasets were scored by BLEU (COMET's package or model was missing)."""
    bleu = sorted({f"{m.task} ({m.metric})" for m in matrices if m.task in CATEGORIES["MT"] and m.metric != COMET})
    if not bleu:
        return ""
    return (f"MT is scored by BLEU, not COMET, for {', '.join(bleu)}: COMET's package or model was missing when "
            "they were scored, so these MT numbers are not comparable with the paper's COMET scores (install "
            "ckptlens[comet], point --comet-model at Unbabel/wmt22-comet-da, and re-evaluate or re-import).")


def llm_jp_eval_scores(matrices: list[TaskMatrix]) -> list[dict]:
    """Per (run, step): each dataset's llm-jp-eval score, then each category's and AVG; empty without
    llm-jp-eval datasets."""
    known = {name for datasets in CATEGORIES.values() for name in datasets} | {"jsts"}
    datasets: dict[tuple[str, int], dict[str, float]] = defaultdict(dict)
    for m in (m for m in matrices if m.task in known and m.kind == "generation"):
        for t, step in enumerate(m.steps):
            datasets[(m.run, int(step))][m.task] = dataset_score(
                m.task, [str(o) for o in m.outputs[:, t]], [str(g) for g in m.targets], list(m.score[:, t]))
    rows = []
    for (run, step), scores in sorted(datasets.items()):
        categories, overall = category_scores(scores)
        named = {**scores, **categories, **({"AVG": overall} if categories else {})}
        rows += [{"run": run, "step": step, "name": name, "score": float(value)} for name, value in named.items()]
    return rows


def category_means(rows: list[StabilityRow]) -> list[dict]:
    """Mean over a category's tasks per (run, category, method, window), near-chance tasks included.

    Adaptive methods choose their window per task, so they have no place on a window-size axis.
    """
    with_examples = [replace(r, near_chance=False) for r in rows if r.example_mtv is not None]
    return [m for m in summarise(with_examples, BY) if m["window"] is not None]


def category_trajectories(rows: list[StabilityRow], points: list[TrajectoryPoint]) -> list[dict]:
    """Mean score over a category's tasks by (run, category, method, window, step), inside the stability window."""
    raw = {(r.run, r.task): r for r in rows if r.method == "raw"}
    groups: dict[tuple, list[float]] = defaultdict(list)
    for p in points:
        row = raw.get((p.run, p.task))
        if row is not None and p.step >= row.first_step:
            groups[(p.run, row.category, p.method, p.window, p.step)].append(p.score)
    keys = ("run", "category", "method", "window", "step")
    return [{**dict(zip(keys, key)), "score": fmean(v)} for key, v in sorted(groups.items())]


def by_size(by_category: list[dict], sizes: dict[str, int | None]) -> list[dict]:
    """Raw example MTV and IS of each (category, sized run), smallest run first."""
    rows = [
        {"category": r["category"], "n_params": sizes[r["run"]], "run": r["run"],
         "example_mtv": r["example_mtv"], "instability_score": r["instability_score"]}
        for r in by_category
        if r["method"] == "raw" and sizes.get(r["run"])
    ]
    return sorted(rows, key=lambda r: (r["category"], r["n_params"]))


def window_size_figure(rows: list[dict], path: Path, title: str) -> Path:
    """Rows: one category per line of panels; example MTV and IS against window size, a line per method."""
    categories = sorted({r["category"] for r in rows})
    fig, axes = plt.subplots(len(categories), 2, figsize=(8, 2.4 * len(categories)), squeeze=False)
    raw = {r["category"]: r for r in rows if r["method"] == "raw"}
    windows = sorted({r["window"] for r in rows})
    for i, category in enumerate(categories):
        for j, (key, label) in enumerate(MEASURES):
            ax = axes[i][j]
            for method in sorted({r["method"] for r in rows if r["method"] != "raw"}):
                line = sorted((r for r in rows if r["category"] == category and r["method"] == method),
                              key=lambda r: r["window"])
                if category in raw:
                    line = [raw[category], *line]
                ax.plot([r["window"] for r in line], [r[key] for r in line], "o-", label=method, ms=3)
            if category in raw:
                ax.scatter([1], [raw[category][key]], color="black", zorder=3, label="raw")
            ax.set(xlabel="window size", ylabel=label, title=category, xscale="log")
            ax.set_xticks(windows, labels=[str(w) for w in windows])
            ax.minorticks_off()
            ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def category_trajectory_figure(rows: list[dict], path: Path, title: str) -> Path:
    """One panel per category: the final-window score by step, raw and each integrated (method, window)."""
    categories = sorted({r["category"] for r in rows})
    fig, axes = plt.subplots(len(categories), 1, figsize=(7, 2.4 * len(categories)), squeeze=False)
    for ax, category in zip(axes[:, 0], categories):
        lines: dict[tuple, list[dict]] = defaultdict(list)
        for r in rows:
            if r["category"] == category:
                lines[(r["method"], r["window"])].append(r)
        for (method, window), line in sorted(lines.items(), key=lambda kv: (kv[0][0] != "raw", kv[0])):
            style = {"color": "black", "lw": 1.6} if method == "raw" else {"alpha": 0.8, "lw": 1.1}
            label = method if method == "raw" else f"{method} n={window}"
            ax.plot([r["step"] for r in line], [r["score"] for r in line], label=label, **style)
        ax.set(xlabel="step", ylabel="score", title=category)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, ncol=2)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def size_figure(rows: list[dict], path: Path, title: str) -> Path:
    """Example MTV and IS against parameters (log scale), a line per category."""
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    for ax, (key, label) in zip(axes, MEASURES):
        for category in sorted({r["category"] for r in rows}):
            line = [r for r in rows if r["category"] == category]
            ax.plot([r["n_params"] for r in line], [r[key] for r in line], "o-", label=category, ms=3)
        ax.set(xscale="log", xlabel="parameters", ylabel=label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
