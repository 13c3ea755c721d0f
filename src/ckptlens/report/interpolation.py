"""The interpolation path as a figure and a terminal table: loss and scores from θ_a (α=0) to θ_b (α=1)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.table import Table  # noqa: E402

from ckptlens.diagnostics.interpolation import Barrier, PathPoint  # noqa: E402
from ckptlens.report.figures import save_figure  # noqa: E402
from ckptlens.report.tables import add_columns


def interpolation_figure(points: Sequence[PathPoint], path: Path, title: str) -> Path:
    """Scores (top) and losses (bottom, when a perplexity task was given) along α, each with its chord dashed."""
    metrics = sorted({p.metric for p in points}, key=lambda m: m != "score")
    fig, axes = plt.subplots(len(metrics), 1, figsize=(6, 2.8 * len(metrics)), sharex=True, squeeze=False)
    for ax, metric in zip(axes[:, 0], metrics):
        for task in sorted({p.task for p in points if p.metric == metric}):
            curve = sorted((p for p in points if (p.task, p.metric) == (task, metric)), key=lambda p: p.alpha)
            line = ax.plot([p.alpha for p in curve], [p.value for p in curve], "o-", ms=3, label=task)[0]
            ends = (curve[0], curve[-1])
            ax.plot([e.alpha for e in ends], [e.value for e in ends], "--", color=line.get_color(), alpha=0.5, lw=0.9)
        ax.set(ylabel="loss (nats/token)" if metric == "loss" else "score")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0, 0].set_title(title)
    axes[-1, 0].set_xlabel(r"$\alpha$ in $(1-\alpha)\,\theta_a + \alpha\,\theta_b$ (dashed: the chord)")
    return save_figure(fig, path)


def barrier_rich_table(found: Sequence[Barrier]) -> Table:
    """One line per task: the path's worst excursion beyond the chord, and the midpoint's gain over it."""
    table = Table(title="Interpolation path against the straight chord between its ends", title_justify="left")
    add_columns(table, ("task", "metric", "barrier", "at alpha", "midpoint gain"), left=("task", "metric"))
    for b in found:
        where = f"{b.alpha:.2f}" if b.height > 0 else "-"
        table.add_row(b.task, b.metric, f"{b.height:.4f}", where, f"{b.midpoint_gain:+.4f}")
    return table
