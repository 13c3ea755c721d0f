"""Bootstrap confidence intervals over examples for the stability metrics.

Resampling examples (not checkpoints) answers "how much would this number
move on another draw of examples of the same task". Each replicate is a row of
multinomial counts, so all replicates are computed with a few matrix products.

>>> import numpy as np
>>> score = np.array([[1, 0, 1], [0, 0, 1], [1, 1, 1], [0, 1, 0]], dtype=float)
>>> ci = bootstrap_cis(score, score, resample_weights(4, n_resamples=200, seed=0))
>>> sorted(ci)
['example_mtv', 'instability_score', 'mean_score', 'task_mtv']
>>> lo, hi = ci["example_mtv"]; lo <= 0.5 <= hi
True
"""

from __future__ import annotations

import numpy as np

LEVEL = 0.95


def resample_weights(n_examples: int, n_resamples: int = 1000, seed: int = 0) -> np.ndarray:
    """(n_resamples, n_examples) weights: how often each example is drawn, over n_examples.

    Drawn once per task and shared by all its rows (raw, averaged, ensembled),
    so their intervals come from the same resamples of examples.
    """
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, n_examples, size=(n_resamples, n_examples))
    offsets = np.arange(n_resamples)[:, None] * n_examples
    counts = np.bincount((draws + offsets).ravel(), minlength=n_resamples * n_examples)
    return counts.reshape(n_resamples, n_examples) / n_examples


def bootstrap_cis(
    score: np.ndarray, outputs: np.ndarray, weights: np.ndarray, level: float = LEVEL
) -> dict[str, tuple[float, float]]:
    """Percentile intervals of mean score, task MTV, example MTV and IS; (E, m) inputs, weights from above."""
    trajectories = weights @ score  # (B, m): the task score of each replicate
    per_example_mtv = np.abs(np.diff(score, axis=1)).mean(axis=1)
    per_example_is = (outputs[:, 1:] != outputs[:, :-1]).mean(axis=1)
    replicates = {
        "mean_score": trajectories.mean(axis=1),
        "task_mtv": np.abs(np.diff(trajectories, axis=1)).mean(axis=1),
        "example_mtv": weights @ per_example_mtv,
        "instability_score": weights @ per_example_is,
    }
    tail = (1 - level) / 2 * 100
    return {name: _percentiles(values, tail) for name, values in replicates.items()}


def _percentiles(values: np.ndarray, tail: float) -> tuple[float, float]:
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)
