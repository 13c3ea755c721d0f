"""Is a change between two checkpoints real? A paired test on per-example correctness.

Both checkpoints answered the same examples, so only the discordant examples
carry information: ``b`` right at A and wrong at B, ``c`` wrong at A and right
at B. The exact McNemar test asks whether b and c differ more than a fair coin
would make them.

>>> round(mcnemar_exact(10, 2), 8)  # 12 discordant examples, 10 of them lost: 2 * 79 / 4096
0.03857422
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix, store_matrix, task_matrix
from ckptlens.errors import CkptlensError
from ckptlens.store import Store

ALPHA = 0.05
Z_ALPHA, Z_POWER = 1.959964, 0.841621  # two-sided 5% level, 80% power


@dataclass(frozen=True)
class Comparison:
    run: str
    task: str
    step_a: int
    step_b: int
    n_examples: int
    score_a: float
    score_b: float
    difference: float  # score_b - score_a
    lost: int  # right at A, wrong at B
    gained: int  # wrong at A, right at B
    p_value: float
    min_detectable_difference: float
    significant: bool

    def to_dict(self) -> dict:
        return asdict(self)


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value: 2 * P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), at most 1.

    The tail is summed in log space (log C(n, k) from ``lgamma``, then a log-sum-exp), so 6,000
    discordant examples cost microseconds, not the seconds of an exact big-integer sum, and a
    p-value far below the smallest float is 0.0 instead of an overflow.

    >>> round(mcnemar_exact(0, 8), 10)  # 2 * (1/2)^8
    0.0078125
    """
    n, k = b + c, min(b, c)
    if 2 * k >= n:
        return 1.0  # the tail holds at least half the mass: 2 * tail >= 1
    log_terms = np.array([math.lgamma(n + 1) - math.lgamma(i + 1) - math.lgamma(n - i + 1) for i in range(k + 1)])
    peak = log_terms.max()
    log_tail = peak + math.log(np.exp(log_terms - peak).sum()) - n * math.log(2)
    return min(1.0, 2 * math.exp(log_tail))


def min_detectable_difference(n_examples: int, discordant_fraction: float) -> float:
    """Smallest accuracy difference a paired test on ``n_examples`` detects with 80% power at the 5% level.

    Normal approximation: the difference of two paired accuracies has variance
    about (discordant fraction) / n. With no discordant examples observed, one
    example's worth of discordance is assumed.
    """
    p = max(discordant_fraction, 1 / max(n_examples, 1))
    return (Z_ALPHA + Z_POWER) * math.sqrt(p / max(n_examples, 1))


def compare_checkpoints(
    store: Store, run: str, task: str, step_a: int, step_b: int, metric: str | None = None
) -> Comparison:
    """``ckptlens compare``: the paired test between two steps of a run on one task (on ``metric``), from the store."""
    records = store.read([run], [task])
    if records.num_rows == 0:
        raise CkptlensError(f"no per-example records for run {run!r} and task {task!r} in {store.root}")
    return compare_steps(task_matrix(records, run, task, metric), step_a, step_b)


def compare_tasks(
    store: Store, step_a: int, step_b: int, run: str | None = None, task: str | None = None, metric: str | None = None
) -> list[Comparison]:
    """``compare_checkpoints`` for ``task``, or for every scored task of the run when None; ``run`` may be
    left out when the store holds one run that is not an average (the one evaluated or imported)."""
    run = run or _only_run(store)
    if task:
        return [compare_checkpoints(store, run, task, step_a, step_b, metric)]
    found = (store_matrix(store, run, t, metric=metric) for t in store.tasks(run))
    matrices = [m for m in found if m is not None and m.is_score]  # losses (perplexities) have no right/wrong
    if not matrices:
        raise CkptlensError(f"run {run!r} has no scored per-example records in {store.root} to compare")
    return [compare_steps(m, step_a, step_b) for m in matrices]


def _only_run(store: Store) -> str:
    runs = [r for r in store.base_runs() if store.tasks(r)]
    if len(runs) != 1:
        named = ", ".join(runs) if runs else "none with per-example records"
        raise CkptlensError(f"{store.root} holds {len(runs)} runs ({named}): name one with --run")
    return runs[0]


def compare_steps(matrix: TaskMatrix, step_a: int, step_b: int) -> Comparison:
    """The paired comparison of two checkpoints of one run and task: their task scores (``TaskMatrix.curve``),
    and the exact McNemar test on each example's correctness (a score of at least 0.5 counts as right)."""
    if not matrix.is_score:
        raise CkptlensError(f"{matrix.run}/{matrix.task}: {matrix.metric} is a loss, not right/wrong per example; "
                            "McNemar's test compares correctness: pick a --metric such as acc")
    index = {int(s): i for i, s in enumerate(matrix.steps)}
    missing = [s for s in (step_a, step_b) if s not in index]
    if missing:
        steps = ", ".join(str(s) for s in matrix.steps[:12])
        raise CkptlensError(f"{matrix.run}/{matrix.task} has no checkpoint at step {missing[0]}; steps: {steps}")
    a, b = matrix.score[:, index[step_a]] >= 0.5, matrix.score[:, index[step_b]] >= 0.5  # right or wrong
    lost, gained = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = matrix.n_examples
    p_value = mcnemar_exact(lost, gained)
    score_a, score_b = float(matrix.curve[index[step_a]]), float(matrix.curve[index[step_b]])
    return Comparison(
        run=matrix.run, task=matrix.task, step_a=step_a, step_b=step_b, n_examples=n,
        score_a=score_a, score_b=score_b, difference=score_b - score_a,
        lost=lost, gained=gained, p_value=p_value,
        min_detectable_difference=min_detectable_difference(n, (lost + gained) / n),
        significant=p_value < ALPHA,
    )


def neighbour_comparisons(matrix: TaskMatrix) -> list[Comparison]:
    """Every pair of neighbouring checkpoints: which score changes are more than noise."""
    steps = [int(s) for s in matrix.steps]
    return [compare_steps(matrix, a, b) for a, b in zip(steps[:-1], steps[1:])]
