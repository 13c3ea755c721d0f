"""Matplotlib figures, each a function from analysis rows to a PNG file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from ckptlens.analysis.examples import ExampleView  # noqa: E402
from ckptlens.analysis.trajectories import TrajectoryPoint  # noqa: E402
from ckptlens.files import atomic_path  # noqa: E402

DPI = 100  # a figure of width w inches is w x 100 pixels: shown at 100% zoom, its fonts read as set
SCORE_LABEL = "score (fraction right)"
STEP_LABEL = "training step"
FAMILY_COLOURS = {"average": "Blues", "ensemble-vote": "Oranges", "ensemble-mean-logprob": "Greens",
                  "ensemble-mean-prob": "Purples", "ensemble-confidence": "Reds"}
WINDOW_COLOUR = "gold"


def trajectory_figure(points: list[TrajectoryPoint], window: tuple[int, int], picks: dict[str, int], path: Path,
                      title: str) -> Path:
    """One task: the raw score over all of training, then one panel per method (average, each ensemble rule)
    with raw against every window of that method over the final ``window`` (first, last step).

    ``picks``: the window the adaptive rule chose per method, marked in the legend.
    """
    curves: dict[tuple[str, int], list[TrajectoryPoint]] = defaultdict(list)
    for p in points:
        curves[(p.method, p.window)].append(p)
    families = sorted({m for m, _ in curves if m != "raw"}, key=lambda m: (m != "average", m))
    cols = 2 if len(families) + 1 <= 4 else 3
    rows = -(-(len(families) + 1) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(5.6 * cols, 4.1 * rows), squeeze=False)
    zoomed = list(axes.flat)[1 : len(families) + 1]
    for ax in zoomed[1:]:
        ax.sharey(zoomed[0])  # every method on one scale: a steadier line reads as steadier
    raw = curves[("raw", 1)]
    overview = axes.flat[0]
    overview.plot([p.step for p in raw], [p.score for p in raw], "o-", color="black", ms=2.5, lw=1.2,
                  label="raw checkpoints")
    overview.axvspan(*window, color=WINDOW_COLOUR, alpha=0.3, label=f"final window (steps {window[0]}–{window[1]})")
    _axes(overview, "whole training: raw checkpoints")
    for ax, family in zip(list(axes.flat)[1:], families):
        _family_panel(ax, family, curves, window, picks.get(f"adaptive-{family}"))
    for ax in list(axes.flat)[len(families) + 1 :]:
        ax.axis("off")
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def _family_panel(ax, family: str, curves: dict, window: tuple[int, int], pick: int | None) -> None:
    """Raw against each window of one method, inside the final window only (where the table measures them)."""
    inside = [p for p in curves[("raw", 1)] if window[0] <= p.step <= window[1]]
    ax.plot([p.step for p in inside], [p.score for p in inside], "o-", color="black", ms=3, lw=1.3, label="raw")
    windows = sorted(n for m, n in curves if m == family)
    shades = plt.get_cmap(FAMILY_COLOURS.get(family, "Greys"))(np.linspace(0.95, 0.5, len(windows))[::-1])
    for n, colour in zip(windows, shades):
        pts = [p for p in curves[(family, n)] if window[0] <= p.step <= window[1]]
        label = f"{family} of {n}" + (" (adaptive pick)" if n == pick else "")
        ax.plot([p.step for p in pts], [p.score for p in pts], "s-" if family == "average" else "^--",
                color=colour, ms=3, lw=1.3, label=label)
    _axes(ax, f"final window: raw against {family}")


def _axes(ax, title: str) -> None:
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(STEP_LABEL, fontsize=9)
    ax.set_ylabel(SCORE_LABEL, fontsize=9)
    ax.tick_params(labelsize=8)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, -0.2), frameon=False)  # below, off the lines


def loss_figure(curve: list[dict], path: Path, title: str) -> Path:
    """Train and validation loss by step, as the pretraining manifest recorded them."""
    fig, ax = plt.subplots(figsize=(8, 3.4))
    for key, name in (("train_loss", "training loss"), ("val_loss", "validation loss")):
        pts = [(r["step"], r[key]) for r in curve if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), label=name)
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(STEP_LABEL, fontsize=9)
    ax.set_ylabel("cross-entropy loss (nats per token)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    """Save and close ``fig``; written beside ``path`` and renamed, so a killed run leaves no half image."""
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, format=path.suffix.lstrip(".") or "png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return path


def example_heatmap(view: ExampleView, path: Path, max_rows: int = 300) -> Path:
    """Examples x checkpoints, right (dark) or wrong (light), most-flipping examples on top."""
    rows = np.linspace(0, len(view.example_ids) - 1, min(max_rows, len(view.example_ids))).astype(int)
    fig, ax = plt.subplots(figsize=(8, 4.4))
    ax.imshow(view.correct[rows], aspect="auto", interpolation="nearest", cmap="Greys", vmin=0, vmax=1,
              extent=(0, len(view.steps), len(rows), 0))
    start = int(np.searchsorted(view.steps, view.window_start))
    ax.axvline(start, color=WINDOW_COLOUR, lw=2, label=f"final window starts (step {view.window_start})")
    ax.add_patch(plt.Rectangle((0, 0), 0, 0, color="black", label="right"))
    ax.add_patch(plt.Rectangle((0, 0), 0, 0, facecolor="white", edgecolor="grey", label="wrong"))
    ticks = np.linspace(0, len(view.steps) - 1, min(8, len(view.steps))).astype(int)
    ax.set_xticks(ticks + 0.5, [str(view.steps[t]) for t in ticks], fontsize=8)
    shown = "" if len(rows) == len(view.example_ids) else f", {len(rows)} of {len(view.example_ids)} shown"
    ax.set_title(f"{view.run} / {view.task}: each example right or wrong at each checkpoint", fontsize=10)
    ax.set_xlabel(f"{STEP_LABEL} (checkpoints in order)", fontsize=9)
    ax.set_ylabel(f"examples, most flips first{shown}", fontsize=9)
    ax.legend(fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    return save_figure(fig, path)
