"""Scores at every checkpoint: per task, and per category as lm-eval scores a group (the size-weighted mean).

lm-eval's groups (``mmlu`` over its 57 subtasks) report, with ``weight_by_size``,
``sum(score_i * size_i) / sum(size_i)`` over their tasks' scores and document
counts (``lm_eval.api.metrics.aggregate_subtask_metrics``), which is the mean
over every document of the group. ``ckptlens eval --tasks lm-eval:mmlu`` stores
each subtask with its outermost group as its category, so a group's score at a
step is the mean over all examples of the category's tasks, at the steps all of
them have. ``ckptlens scores --by category`` prints it.

>>> scores = group_scores(Store("store"))
>>> sorted(scores[0])
['category', 'n_examples', 'n_tasks', 'run', 'score', 'step']

On lm-eval's ``mmlu`` (57 subtasks) a row reads ``{'run': 'pythia-160m', 'category': 'mmlu', 'step': 143000,
'score': 0.254, 'n_tasks': 57, 'n_examples': 14042}``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import reduce

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix, store_matrices
from ckptlens.store import Store


@dataclass(frozen=True)
class StepSums:
    """One (run, task)'s scores summed over its examples at each step: all a group's mean needs of it."""

    run: str
    task: str
    category: str
    steps: np.ndarray  # (m,) int
    sums: np.ndarray  # (m,) sum of the examples' scores
    counts: np.ndarray  # (m,) examples with a score

    @classmethod
    def of(cls, matrix: TaskMatrix) -> StepSums:
        scored = ~np.isnan(matrix.score)
        return cls(matrix.run, matrix.task, matrix.category, matrix.steps,
                   np.where(scored, matrix.score, 0.0).sum(axis=0), scored.sum(axis=0))

    def at(self, step: int) -> tuple[float, int]:
        index = int(np.flatnonzero(self.steps == step)[0])
        return float(self.sums[index]), int(self.counts[index])


def task_scores(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """Each (run, task)'s mean score over its examples at each step (lm-eval's task score)."""
    rows = []
    for task in sorted((StepSums.of(m) for m in matrices), key=lambda t: (t.run, t.task)):
        for step in task.steps:
            total, n = task.at(step)
            rows.append({"run": task.run, "task": task.task, "category": task.category, "step": int(step),
                         "score": total / n if n else None, "n_examples": n})
    return rows


def group_scores(store: Store, metric: str | None = None, categories: dict[str, str] | None = None,
                 runs: list[str] | None = None) -> list[dict]:
    """Size-weighted mean score per (run, category, step) over the store's per-example records."""
    return weighted_means(store_matrices(store, runs, categories, metric))


def weighted_means(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """The mean over every example of each (run, category)'s tasks, at the steps all of them have.

    Each matrix is reduced to its per-step sums as it arrives, so a store's matrices are never all held at once.
    """
    groups: dict[tuple[str, str], list[StepSums]] = defaultdict(list)
    for matrix in matrices:
        groups[(matrix.run, matrix.category)].append(StepSums.of(matrix))
    rows = []
    for (run, category), members in sorted(groups.items()):
        for step in reduce(np.intersect1d, [m.steps for m in members]):
            total, n = np.sum([m.at(step) for m in members], axis=0)
            rows.append({"run": run, "category": category, "step": int(step),
                         "score": float(total / n) if n else None, "n_tasks": len(members), "n_examples": int(n)})
    return rows
