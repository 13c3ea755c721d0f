"""Is a checkpoint's drop real? Each checkpoint against the run's smoothed trend, beyond its noise.

The trend at checkpoint t is the trailing window of the ``window`` checkpoints before it. Where per-example
records are stored, the test is an exact McNemar test (``compare.mcnemar_exact``) of the checkpoint's
correctness against the window's majority answer on the same examples; for task-level imports it is the
binomial noise of the two scores (normal approximation, the window's mean counted as ``window`` measurements).
A flag needs the score below the trend and p below ``alpha``; ``alpha`` is small because every (task,
checkpoint) of a watched run is tested.

>>> scores = np.array([0.50, 0.51, 0.52, 0.52, 0.53, 0.45])
>>> [f["step"] for f in binomial_flags(np.arange(6) * 100, scores, n_examples=2000)]
[500]
>>> binomial_flags(np.arange(6) * 100, scores[:5], n_examples=2000)
[]
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from ckptlens.analysis.compare import mcnemar_exact
from ckptlens.analysis.curves import task_curves
from ckptlens.analysis.matrix import MissingMetric, store_matrix
from ckptlens.store import Store

WINDOW = 5  # checkpoints in the trailing trend
MIN_WINDOW = 3  # no test before this many earlier checkpoints
ALPHA = 1e-3  # per (task, checkpoint)


@dataclass(frozen=True)
class HealthConfig:
    window: int = WINDOW
    alpha: float = ALPHA


def binomial_flags(steps, scores, n_examples: int | None, config: HealthConfig = HealthConfig()) -> list[dict]:
    """Drops of a task-level score curve beyond binomial noise (nothing when the example count is unknown)."""
    steps, scores = np.asarray(steps), np.asarray(scores, dtype=float)
    flags = []
    for t in range(MIN_WINDOW, len(scores)) if n_examples else ():
        trailing = scores[max(0, t - config.window):t]
        trend, drop = float(trailing.mean()), float(trailing.mean() - scores[t])
        var = max(trend * (1 - trend), 1e-4) / n_examples * (1 + 1 / len(trailing))
        p = 1 - NormalDist().cdf(drop / np.sqrt(var))
        if drop > 0 and p < config.alpha:
            flags.append(_flag(int(steps[t]), drop, p, "binomial"))
    return flags


def mcnemar_flags(steps, correct: np.ndarray, config: HealthConfig = HealthConfig()) -> list[dict]:
    """Drops of an (examples x checkpoints) 0/1 correctness matrix beyond the paired noise (exact McNemar).

    >>> rng = np.random.default_rng(0); right = rng.random((400, 1)) < 0.7
    >>> correct = np.repeat(right, 8, axis=1); correct[:60, 7] = False  # 60 examples lost at the last one
    >>> [(f["step"], round(f["drop"], 3)) for f in mcnemar_flags(np.arange(8), correct)]
    [(7, 0.105)]
    """
    steps, correct = np.asarray(steps), np.asarray(correct) >= 0.5
    flags = []
    for t in range(MIN_WINDOW, correct.shape[1]):
        trailing = correct[:, max(0, t - config.window):t]
        reference = trailing.mean(axis=1) >= 0.5  # the window's majority answer per example
        lost, gained = int(np.sum(reference & ~correct[:, t])), int(np.sum(~reference & correct[:, t]))
        drop = float(trailing.mean() - correct[:, t].mean())
        p = mcnemar_exact(lost, gained)
        if drop > 0 and lost > gained and p < config.alpha:
            flags.append(_flag(int(steps[t]), drop, p, "McNemar"))
    return flags


def _flag(step: int, drop: float, p: float, test: str) -> dict:
    return {"step": step, "drop": drop, "p_value": p, "test": test}


def health_line(run: str, task: str, flag: dict) -> str:
    """The one line a watch prints for a flag.

    >>> health_line("r", "arc", {"step": 700, "drop": 0.042, "p_value": 3e-5, "test": "McNemar"})
    'health: r/arc at step 700 drops 4.2 points below its trend (McNemar p = 3e-05)'
    """
    return (f"health: {run}/{task} at step {flag['step']} drops {100 * flag['drop']:.1f} points below its trend "
            f"({flag['test']} p = {flag['p_value']:.2g})")


def run_health(run: str, curves: list, matrices: dict, config: HealthConfig = HealthConfig()) -> list[dict]:
    """Every flag of ``run``, with its task: McNemar on its multiple-choice matrices ({(run, task): matrix}),
    binomial on its other curves."""
    flags = []
    tested = set()
    for (owner, task), matrix in sorted(matrices.items()):
        if owner == run and matrix.kind == "multiple_choice":
            flags += [{"run": run, "task": task, **f} for f in mcnemar_flags(matrix.steps, matrix.score, config)]
            tested.add(task)
    for curve in curves:
        if curve.run == run and curve.task not in tested:
            found = binomial_flags(curve.steps, curve.scores, curve.n_examples, config)
            flags += [{"run": run, "task": curve.task, **f} for f in found]
    return flags


def store_health(store: Store, run: str, metric: str | None = None, config: HealthConfig = HealthConfig()
                 ) -> list[dict]:
    """``run_health`` of one run, read from the store (what a watch calls after each checkpoint)."""
    matrices = {}
    for task in store.tasks(run):
        try:
            matrix = store_matrix(store, run, task, metric=metric)
        except MissingMetric:
            continue
        if matrix is not None:
            matrices[(run, task)] = matrix
    return run_health(run, task_curves(store, metric), matrices, config)
