"""Score over training for every run, one line per model size: what a reader of imported results looks at first.

One figure per capability category (the mean of the category's tasks that every run has), or per task when the
user named tasks (``--tasks``); the final window is shaded and chance is a dashed line. Read from the score
curves of ``analysis.curves``, so imported task-level results draw as well as evaluated records.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckptlens.analysis.curves import Curve  # noqa: E402
from ckptlens.report.data import ReportData  # noqa: E402
from ckptlens.report.figures import save_figure  # noqa: E402
from ckptlens.report.html import Page  # noqa: E402


def size_figures(page: Page, data: ReportData) -> None:
    """The figures, two to a row; drawn when several runs are compared or no per-task curve is drawn."""
    runs = [r for r in data.runs() if any(c.run == r for c in data.curves)]
    if not runs or (len(runs) == 1 and data.points):
        return
    groups = _groups(data, runs)
    if not groups:
        return
    what = "task" if data.config.tasks else "category"
    page.heading(f"Score over training per {what}")
    page.text(f"Each line is one run (darker: larger); per category, the mean score of its tasks that every run has. "
              f"The shaded band is the final window (the last {data.last:.0%} of training); the dashed line is chance. "
              "`ckptlens scores --wide` prints the numbers, step by task.")
    drawn = []
    for name, tasks in groups.items():
        path = data.figures / f"by_size__{_slug(name)}.png"
        curves = [c for c in data.curves if c.run in runs and c.task in tasks]
        alt = (f"{name} ({len(tasks)} task{'s' if len(tasks) > 1 else ''}): score by training step of "
               f"{', '.join(runs)}, final window shaded")
        title = name if what == "task" else f"{name} ({len(tasks)} task{'s' if len(tasks) > 1 else ''})"
        drawn.append((score_by_size_figure(curves, runs, title, data.last, path), alt))
    page.figures(drawn)


def _groups(data: ReportData, runs: list[str]) -> dict[str, list[str]]:
    """Category (or task) -> the tasks every run has a curve for."""
    have: dict[str, set[str]] = {}
    for c in data.curves:
        have.setdefault(c.task, set()).add(c.run)
    shared = {c.task: c.category for c in data.curves if have[c.task] >= set(runs)}
    if data.config.tasks:
        return {t: [t] for t in data.config.tasks if t in shared}
    groups: dict[str, list[str]] = {}
    for task, category in sorted(shared.items()):
        groups.setdefault(category, []).append(task)
    return dict(sorted(groups.items()))


def score_by_size_figure(curves: list[Curve], runs: list[str], title: str, last: float, path: Path) -> Path:
    """Mean score of ``curves`` per run over training (steps every one of the run's curves has)."""
    fig, ax = plt.subplots(figsize=(5.4, 3.0))
    colours = plt.cm.viridis(np.linspace(0.85, 0.1, len(runs)))
    final = 0
    for run, colour in zip(runs, colours):
        mine = [c for c in curves if c.run == run]
        steps = sorted(set.intersection(*(set(c.steps.tolist()) for c in mine)))
        if not steps:
            continue
        scores = np.mean([[c.scores[list(c.steps).index(s)] for s in steps] for c in mine], axis=0)
        ax.plot(steps, scores, color=colour, lw=1.4, label=run)
        final = max(final, steps[-1])
    ax.axvspan((1 - last) * final, final, color="#2a6fdb", alpha=0.12, lw=0)
    chances = [c.chance for c in curves if c.chance is not None]
    if chances and len(chances) == len(curves):
        ax.axhline(float(np.mean(chances)), color="grey", ls="--", lw=1)
    ax.set(xlabel="training step", ylabel="score", title=title)
    ax.title.set_fontsize(10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6, ncol=2 if len(runs) > 4 else 1, loc="best")
    return save_figure(fig, path)


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
