"""Is a change between two checkpoints real? A paired test on per-example correctness.

Both checkpoints answered the same examples, so only the discordant examples
carry information: ``b`` right at A and wrong at B, ``c`` wrong at A and right
at B. The exact McNemar test asks whether b and c differ more than a fair coin
would make them.

>>> mcnemar_exact(10, 2)  # 12 discordant examples, 10 of them lost
0.03857421875
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix, task_matrix
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
    """Two-sided exact McNemar p-value: 2 * P(X <= min(b, c)) for X ~ Binomial(b + c, 1/2), at most 1."""
    n = b + c
    tail = sum(math.comb(n, k) for k in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)  # exact integers; the one division is correctly rounded


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


def compare_steps(matrix: TaskMatrix, step_a: int, step_b: int) -> Comparison:
    """The paired comparison of two checkpoints of one run and task."""
    index = {int(s): i for i, s in enumerate(matrix.steps)}
    missing = [s for s in (step_a, step_b) if s not in index]
    if missing:
        steps = ", ".join(str(s) for s in matrix.steps[:12])
        raise CkptlensError(f"{matrix.run}/{matrix.task} has no checkpoint at step {missing[0]}; steps: {steps}")
    a, b = matrix.score[:, index[step_a]] >= 0.5, matrix.score[:, index[step_b]] >= 0.5
    lost, gained = int(np.sum(a & ~b)), int(np.sum(~a & b))
    n = matrix.n_examples
    p_value = mcnemar_exact(lost, gained)
    return Comparison(
        run=matrix.run, task=matrix.task, step_a=step_a, step_b=step_b, n_examples=n,
        score_a=float(a.mean()), score_b=float(b.mean()), difference=float(b.mean() - a.mean()),
        lost=lost, gained=gained, p_value=p_value,
        min_detectable_difference=min_detectable_difference(n, (lost + gained) / n),
        significant=p_value < ALPHA,
    )


def neighbour_comparisons(matrix: TaskMatrix) -> list[Comparison]:
    """Every pair of neighbouring checkpoints: which score changes are more than noise."""
    steps = [int(s) for s in matrix.steps]
    return [compare_steps(matrix, a, b) for a, b in zip(steps[:-1], steps[1:])]
