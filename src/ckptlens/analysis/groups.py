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

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix, store_matrices
from ckptlens.store import Store


def step_totals(matrix: TaskMatrix) -> dict[int, tuple[float, int]]:
    """Step -> (task score x examples scored, examples scored): all a group's size-weighted mean needs of a task.

    The score is the matrix's (``TaskMatrix.curve``), weighed by its size as lm-eval weighs a group's tasks.
    """
    counts = (~np.isnan(matrix.score)).sum(axis=0)
    totals = np.where(counts > 0, matrix.curve * counts, 0.0)
    return {int(step): (float(total), int(n)) for step, total, n in zip(matrix.steps, totals, counts)}


def task_scores(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """Each (run, task)'s score at each step (lm-eval's task score), with the examples behind it."""
    rows = []
    for matrix in sorted(matrices, key=lambda m: (m.run, m.task)):
        for step, (total, n) in step_totals(matrix).items():
            rows.append({"run": matrix.run, "task": matrix.task, "category": matrix.category, "step": step,
                         "score": total / n if n else None, "n_examples": n})
    return rows


def group_scores(store: Store, metric: str | None = None, categories: dict[str, str] | None = None,
                 runs: list[str] | None = None) -> list[dict]:
    """Size-weighted mean score per (run, category, step) over the store's per-example records."""
    return weighted_means(store_matrices(store, runs, categories, metric))


def weighted_means(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """The mean over every example of each (run, category)'s tasks, at the steps all of them have.

    Each matrix is reduced to its per-step totals as it arrives, so a store's matrices are never all held at once.
    """
    groups: dict[tuple[str, str], list[dict[int, tuple[float, int]]]] = defaultdict(list)
    for matrix in matrices:
        groups[(matrix.run, matrix.category)].append(step_totals(matrix))
    rows = []
    for (run, category), members in sorted(groups.items()):
        for step in sorted(set.intersection(*(set(m) for m in members))):
            total, n = np.sum([m[step] for m in members], axis=0)
            rows.append({"run": run, "category": category, "step": step,
                         "score": float(total / n) if n else None, "n_tasks": len(members), "n_examples": int(n)})
    return rows
