"""Comparing runs of different sizes: similarity of dynamics, ranking agreement, signal over noise.

>>> kendall_tau([1, 2, 3, 4], [10, 20, 30, 40]), kendall_tau([1, 2, 3], [3, 2, 1])
(1.0, -1.0)
"""

from __future__ import annotations

import numpy as np


def kendall_tau(a, b) -> float:
    """Kendall's tau-b between two rankings (ties allowed); NaN when either is constant."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    i, j = np.triu_indices(len(a), k=1)
    da, db = np.sign(a[i] - a[j]), np.sign(b[i] - b[j])
    denominator = np.sqrt(np.sum(da != 0) * np.sum(db != 0))
    return float(np.sum(da * db) / denominator) if denominator else float("nan")


def pearson(a, b) -> float:
    """Pearson correlation; NaN when either series is constant or shorter than 3."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(a) < 3 or np.std(a) == 0 or np.std(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def min_max(y: np.ndarray) -> np.ndarray:
    """The curve rescaled to [0, 1] (all zeros when flat): compares shapes, not levels."""
    span = np.max(y) - np.min(y)
    return (y - np.min(y)) / span if span > 0 else np.zeros_like(y, dtype=float)


def shape_similarity(x1: np.ndarray, y1: np.ndarray, x2: np.ndarray, y2: np.ndarray) -> float:
    """Correlation of two min-max normalised curves on the union of their x within the shared range."""
    lo, hi = max(x1[0], x2[0]), min(x1[-1], x2[-1])
    grid = np.union1d(x1, x2)
    grid = grid[(grid >= lo) & (grid <= hi)]
    if len(grid) < 3:
        return float("nan")
    return pearson(min_max(np.interp(grid, x1, y1)), min_max(np.interp(grid, x2, y2)))


def signal_to_noise(per_run_scores: list[np.ndarray]) -> tuple[float, float, float]:
    """(signal, noise, ratio) of a task within a stretch of training, over runs of different sizes.

    Signal: standard deviation across runs of their mean score in the stretch (what tells sizes apart).
    Noise: mean over runs of the mean absolute change between neighbouring checkpoints (task MTV).
    """
    usable = [s for s in per_run_scores if len(s) >= 2]
    if len(usable) < 2:
        return float("nan"), float("nan"), float("nan")
    signal = float(np.std([s.mean() for s in usable]))
    noise = float(np.mean([np.abs(np.diff(s)).mean() for s in usable]))
    return signal, noise, (signal / noise if noise > 0 else float("inf"))
