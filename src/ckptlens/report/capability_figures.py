"""Figures of the capability analysis: curves per size, cross-size similarity, loss vs score, phases."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckptlens.analysis.capabilities import Capabilities  # noqa: E402
from ckptlens.analysis.dynamics import PHASES, phases  # noqa: E402
from ckptlens.report.figures import save_figure  # noqa: E402

PHASE_COLOURS = dict(zip(PHASES, ("tab:green", "palegreen", "lightgrey", "tab:red")))


def category_curves_figure(cap: Capabilities, align: str, path: Path) -> Path:
    """One panel per capability category, one line per run (model size), darker for larger."""
    categories = sorted({r["category"] for r in cap.category_curves})
    cols = min(3, len(categories))
    rows = -(-len(categories) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 2.8 * rows), squeeze=False)
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, len(cap.runs)))
    for ax, category in zip(axes.flat, categories):
        for run, colour in zip(cap.runs, colours):
            pts = [r for r in cap.category_curves if r["run"] == run and r["category"] == category]
            if pts:
                ax.plot([p["x"] for p in pts], [p["score"] for p in pts], color=colour, lw=1.2, label=run)
        ax.set_title(category, fontsize=9)
        if align != "fraction":
            ax.set_xscale("symlog", linthresh=max(1.0, _first_positive(cap, align)))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(categories) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=6)
    fig.supxlabel(align, fontsize=9)
    fig.supylabel("mean score of the category's tasks", fontsize=9)
    return save_figure(fig, path)


def similarity_figure(cap: Capabilities, path: Path, max_labelled: int = 12) -> Path:
    """Mean correlation of min-max normalised curves between every pair of runs; values on the cells up to
    ``max_labelled`` runs (beyond, the colour bar alone: numbers would not be readable)."""
    n = len(cap.runs)
    matrix = np.eye(n)
    index = {r: i for i, r in enumerate(cap.runs)}
    for row in cap.similarity:
        if row["category"] == "all":
            i, j = index[row["run_a"]], index[row["run_b"]]
            matrix[i, j] = matrix[j, i] = row["correlation"]
    side = min(9.0, 2.2 + 0.65 * n)
    fig, ax = plt.subplots(figsize=(side + 1.2, side))
    image = ax.imshow(matrix, vmin=-1, vmax=1, cmap="RdBu_r")
    ax.set_xticks(range(n), cap.runs, rotation=45, ha="right", fontsize=9)
    ax.set_yticks(range(n), cap.runs, fontsize=9)
    if n <= max_labelled:
        for i in range(n):
            for j in range(n):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=9,
                        color="white" if abs(matrix[i, j]) > 0.6 else "black")
    fig.colorbar(image, ax=ax, shrink=0.8)
    ax.set_title("similarity of task dynamics across sizes", fontsize=10)
    return save_figure(fig, path)


def loss_score_figure(cap: Capabilities, losses: dict, path: Path) -> Path:
    """Mean score over tasks against the run's loss, one colour per run."""
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    colours = plt.cm.viridis(np.linspace(0.1, 0.9, len(cap.runs)))
    label = "loss"
    for run, colour in zip(cap.runs, colours):
        if run not in losses:
            continue
        steps, loss, label = losses[run]
        curves = [c for c in cap.curves if c.run == run]
        shared = [s for s in steps if all(s in c.steps for c in curves)]
        mean = [np.mean([c.scores[np.searchsorted(c.steps, s)] for c in curves]) for s in shared]
        ax.scatter([loss[list(steps).index(s)] for s in shared], mean, s=10, color=colour, label=run)
    ax.set(xlabel=label, ylabel="mean score over tasks", title="downstream score vs loss")
    ax.invert_xaxis()
    ax.grid(alpha=0.3)
    ax.legend(fontsize=6)
    return save_figure(fig, path)


def phase_timeline_figure(cap: Capabilities, run: str, path: Path) -> Path:
    """Per capability category of one run, the phase of each stretch of training (fraction of training on x)."""
    categories = sorted({r["category"] for r in cap.category_curves if r["run"] == run})
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.3 * len(categories)))
    for row, category in enumerate(categories):
        pts = [r for r in cap.category_curves if r["run"] == run and r["category"] == category]
        steps = np.array([p["step"] for p in pts], dtype=float)
        x = steps / max(steps[-1], 1)
        for (a, b), phase in zip(zip(x[:-1], x[1:]), phases(x, np.array([p["score"] for p in pts]))):
            ax.barh(row, b - a, left=a, color=PHASE_COLOURS[phase], height=0.8)
    ax.set_yticks(range(len(categories)), categories, fontsize=7)
    ax.invert_yaxis()
    ax.set(xlabel="fraction of training", title=f"{run}: phase of each capability category", xlim=(0, 1))
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in PHASE_COLOURS.values()]
    ax.legend(handles, PHASES, fontsize=7, ncol=4, loc="upper center", bbox_to_anchor=(0.5, -0.18))
    return save_figure(fig, path)


def _first_positive(cap: Capabilities, align: str) -> float:
    xs = [r["x"] for r in cap.category_curves if r["x"] > 0]
    return min(xs) if xs else 1.0
