"""The stability metrics of DESIGN.md, as pure functions of arrays.

Scores are fractions in [0, 1]. A trajectory is ordered by training step; an
example matrix is (examples, checkpoints). Every metric needs at least two
checkpoints.

>>> import numpy as np
>>> round(task_mtv(np.array([0.5, 0.7, 0.6])), 6)
0.15
>>> example_mtv(np.array([[1, 0, 1], [0, 1, 0]]))  # the task score never moves, the examples do
1.0
"""

from __future__ import annotations

import numpy as np

from ckptlens.errors import CkptlensError
from ckptlens.tasks.metrics import char_f1


def task_mtv(scores: np.ndarray) -> float:
    """Mean total variation of a task score: mean |s_{t+1} - s_t| over neighbours."""
    scores = _trajectory(scores)
    return float(np.mean(np.abs(np.diff(scores))))


def example_mtv(correctness: np.ndarray) -> float:
    """Unweighted mean over examples of each example's mean total variation.

    Not the task MTV: a gain on one example and a loss on another cancel in the
    task score but both count here.
    """
    correctness = _matrix(correctness)
    return float(np.mean(np.abs(np.diff(correctness, axis=1))))


def instability_score(outputs: np.ndarray) -> float:
    """Mean over examples of the fraction of neighbouring checkpoints whose output differs.

    Exact-match similarity on the outputs (chosen options or normalised texts);
    needs no reference, so a change between two wrong answers counts.
    """
    outputs = _matrix(outputs)
    return float(np.mean(outputs[:, 1:] != outputs[:, :-1]))


def instability_score_char_f1(outputs: np.ndarray) -> float:
    """Instability score with character-F1 similarity (llm-jp-eval's, ``tasks.metrics.char_f1``) between
    neighbouring generated texts."""
    outputs = _matrix(outputs)
    changes = [
        1.0 - char_f1(str(a), str(b)) for row in outputs for a, b in zip(row[:-1], row[1:])
    ]
    return float(np.mean(changes))


def score_std(scores: np.ndarray) -> float:
    """Population standard deviation of the task score over the window."""
    return float(np.std(_trajectory(scores)))


def relative_std(scores: np.ndarray) -> float:
    """std / mean of the task score (AI2's "noise"); NaN when the mean is 0."""
    scores = _trajectory(scores)
    mean = float(np.mean(scores))
    return float(np.std(scores) / mean) if mean > 0 else float("nan")


def monotonicity(scores: np.ndarray) -> float:
    """(#up - #down) / (#up + #down) over neighbouring steps; 0 when the score never moves."""
    steps = np.diff(_trajectory(scores))
    up, down = int(np.sum(steps > 0)), int(np.sum(steps < 0))
    return (up - down) / (up + down) if up + down else 0.0


def flip_fraction(correctness: np.ndarray) -> float:
    """Fraction of examples whose correctness changes at least once in the window."""
    correctness = _matrix(correctness)
    return float(np.mean(np.any(correctness[:, 1:] != correctness[:, :-1], axis=1)))


def forgetting_events(correctness: np.ndarray) -> int:
    """Number of (example, t) with the example correct at t and wrong at t+1."""
    correctness = _matrix(correctness).astype(float)
    return int(np.sum((correctness[:, :-1] >= 0.5) & (correctness[:, 1:] < 0.5)))


def _trajectory(scores: np.ndarray) -> np.ndarray:
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 1 or len(scores) < 2:
        raise CkptlensError(f"stability needs at least 2 checkpoints in the window, got {scores.size}")
    return scores


def _matrix(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] < 2:
        raise CkptlensError(
            f"stability needs at least 2 checkpoints in the window, got {values.shape[-1] if values.ndim else 0}"
        )
    return values
