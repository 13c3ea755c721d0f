"""Chance level, and whether a score is indistinguishable from it: one definition for every source.

The chance level of a task is the expected score of a model that guesses uniformly among each example's
options: the mean over examples of 1 / (number of options). A generation task (or a task scored by an exact
answer, such as LAMBADA's last word) has chance 0. The task model, the benchmark table, the stability table,
checkpoint selection and the capability analysis all call ``chance_level``; ``near_chance`` is the one rule
for leaving a task out of means over tasks.

>>> chance_level([4, 4, 2, 2])  # two 4-way and two 2-way questions
0.375
>>> chance_level([0, 0])  # generation: no options to guess among
0.0
>>> near_chance(0.27, 0.25, 1000), near_chance(0.40, 0.25, 1000), near_chance(0.32, 0.25, 20)
(True, False, True)
>>> near_chance(0.36, 0.25, 100)  # 3 standard errors would be 13 points: capped at 10
False
"""

from __future__ import annotations

import math
from collections.abc import Iterable

NEAR_CHANCE_POINTS = 0.05  # a score within 5 points of chance is near it, whatever the number of examples
NEAR_CHANCE_ERRORS = 3.0  # ... and so is one within 3 binomial standard errors (wider on small tasks)
NEAR_CHANCE_CAP = 0.10  # ... but a score more than 10 points above chance counts as learned, however small the task


def chance_level(option_counts: Iterable[int]) -> float:
    """Mean over examples of 1 / options; an example with no options (generation) contributes 0."""
    counts = list(option_counts)
    if not counts:
        return 0.0
    return sum(1 / n for n in counts if n > 0) / len(counts)


def chance_margin(chance: float, n_examples: int | None) -> float:
    """How far above chance a score must be to count as learned: 5 points or 3 standard errors, the wider,
    at most 10 points (on 100 four-way questions 3 standard errors are 13 points; 10 are already 2.3).

    An unknown example count gives the 5-point margin alone: the table of known benchmark sizes
    (``analysis.benchmarks.benchmark_size``) fills it in for common tasks.
    """
    if not n_examples:
        return NEAR_CHANCE_POINTS
    se = math.sqrt(max(chance * (1 - chance), 1e-12) / n_examples)
    return max(NEAR_CHANCE_POINTS, min(NEAR_CHANCE_ERRORS * se, NEAR_CHANCE_CAP))


def near_chance(score: float, chance: float | None, n_examples: int | None) -> bool:
    """Whether ``score`` is not above chance by more than ``chance_margin`` (False when chance is unknown)."""
    return chance is not None and score <= chance + chance_margin(chance, n_examples)


def chance_note(score: float, chance: float | None, n_examples: int | None, basis: str) -> str | None:
    """Why a task is left out of means over tasks, in words; None when it is kept.

    ``basis`` says where the example count came from (``"records"``, ``"n-samples"``, ``"known size"``).

    >>> chance_note(0.27, 0.25, 1172, "known size")
    'near chance: score 0.270 is not above chance 0.250 by more than 0.050 (1172 examples, known size)'
    >>> chance_note(0.369, 0.5, 100, "records")  # below chance: still "not above it by more than the margin"
    'near chance: score 0.369 is not above chance 0.500 by more than 0.100 (100 examples, records)'
    """
    if not near_chance(score, chance, n_examples):
        return None
    count = f"{n_examples} examples, {basis}" if n_examples else "example count unknown: 5-point margin"
    margin = chance_margin(chance, n_examples)
    return f"near chance: score {score:.3f} is not above chance {chance:.3f} by more than {margin:.3f} ({count})"
