"""Matplotlib figures, each a function from analysis rows to a PNG file."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from ckptlens.analysis.examples import ExampleView  # noqa: E402
from ckptlens.analysis.trajectories import TrajectoryPoint  # noqa: E402
from ckptlens.files import atomic_path  # noqa: E402

METHOD_STYLE = {"raw": ("black", "-"), "average": ("tab:blue", "-"), "ensemble-vote": ("tab:orange", "--")}


def trajectory_figure(points: list[TrajectoryPoint], window_start: int, path: Path, title: str) -> Path:
    """One task's score by step: raw against averaged and ensembled windows; the stability window shaded."""
    curves: dict[tuple[str, int], list[TrajectoryPoint]] = defaultdict(list)
    for p in points:
        curves[(p.method, p.window)].append(p)
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for (method, window), pts in sorted(curves.items(), key=lambda kv: (kv[0][0] != "raw", kv[0])):
        color, style = METHOD_STYLE.get(method, ("gray", ":"))
        label = method if method == "raw" else f"{method} n={window}"
        alpha = 1.0 if method == "raw" else 0.35 + 0.65 * min(window, 8) / 8
        ax.plot([p.step for p in pts], [p.score for p in pts], style, color=color, alpha=alpha, lw=1.3, label=label)
    ax.axvspan(window_start, max(p.step for p in points), color="gold", alpha=0.15, label="stability window")
    ax.set(xlabel="step", ylabel="score", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    return save_figure(fig, path)


def loss_figure(curve: list[dict], path: Path, title: str) -> Path:
    """Train and validation loss by step, as the pretraining manifest recorded them."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for key in ("train_loss", "val_loss"):
        pts = [(r["step"], r[key]) for r in curve if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), label=key.replace("_", " "))
    ax.set(xlabel="step", ylabel="loss", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return save_figure(fig, path)


def save_figure(fig, path: Path) -> Path:
    """Save and close ``fig``; written beside ``path`` and renamed, so a killed run leaves no half image."""
    fig.tight_layout()
    with atomic_path(path) as partial:
        fig.savefig(partial, format=path.suffix.lstrip(".") or "png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def example_heatmap(view: ExampleView, path: Path, max_rows: int = 300) -> Path:
    """Examples x checkpoints, right (dark) or wrong (light), most-flipping examples on top."""
    rows = np.linspace(0, len(view.example_ids) - 1, min(max_rows, len(view.example_ids))).astype(int)
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.imshow(view.correct[rows], aspect="auto", interpolation="nearest", cmap="Greys",
              extent=(0, len(view.steps), len(rows), 0))
    start = int(np.searchsorted(view.steps, view.window_start))
    ax.axvline(start, color="gold", lw=1.5, label="stability window")
    ticks = np.linspace(0, len(view.steps) - 1, min(8, len(view.steps))).astype(int)
    ax.set_xticks(ticks + 0.5, [str(view.steps[t]) for t in ticks], fontsize=7)
    shown = "" if len(rows) == len(view.example_ids) else f", {len(rows)} of {len(view.example_ids)} shown"
    ax.set(xlabel="step", ylabel=f"examples (most flips first{shown})", title=f"{view.run} / {view.task}: right (dark)")
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path)
