"""Scores at every checkpoint: per task, and per group as lm-eval scores a group.

A task's score at a step is ``TaskMatrix.curve`` (lm-eval's own
aggregation for lm-eval tasks). lm-eval's groups (``mmlu`` over its subgroups
and 57 subtasks) report, with ``weight_by_size``, ``sum(score_i * size_i) /
sum(size_i)`` over all their leaf tasks' scores and document counts
(``lm_eval.api.metrics.aggregate_subtask_metrics`` in ``Group.aggregate``), the
plain mean of the scores without it. ``ckptlens eval --tasks lm-eval:mmlu``
stores each task's group path with each group's aggregate_metric_list, so
every group and subgroup gets its score, at the steps all its tasks have.
Tasks outside lm-eval's groups make one group per category (the mean over all
its examples). ``ckptlens scores --by category`` prints them.

>>> scores = group_scores(Store("store"))
>>> sorted(scores[0])
['category', 'metric', 'n_examples', 'n_tasks', 'run', 'score', 'step']

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
class StepScores:
    """One (run, task)'s score and scored examples at each step: all a group's score needs of it."""

    run: str
    task: str
    category: str
    steps: np.ndarray  # (m,) int
    scores: np.ndarray  # (m,) the task's score (``TaskMatrix.curve``: lm-eval's aggregation)
    counts: np.ndarray  # (m,) examples with a score
    metric: str | None  # lm-eval's ``metric,filter`` of the score (None: a ckptlens task)
    groups: tuple[dict, ...]  # lm-eval's groups holding the task (``TaskMatrix.groups``)

    @classmethod
    def of(cls, matrix: TaskMatrix) -> StepScores:
        counts = (~np.isnan(matrix.score if matrix.values is None else matrix.values)).sum(axis=0)
        return cls(matrix.run, matrix.task, matrix.category, matrix.steps, matrix.curve, counts,
                   None if matrix.info is None else matrix.info.lm_eval_key, matrix.groups)

    def at(self, step: int) -> tuple[float, int]:
        index = int(np.flatnonzero(self.steps == step)[0])
        return float(self.scores[index]), int(self.counts[index])

    def scored_by(self, level: dict) -> bool:
        """Whether a group level (``GROUP_LEVEL``) aggregates this task's metric, as lm-eval's Group.aggregate."""
        if self.metric is None or level["metric"] is None:
            return False
        metric, filter_name = self.metric.split(",", 1)
        return level["metric"] == metric and (level["filters"] is None or filter_name in level["filters"])


def task_scores(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """Each (run, task)'s score at each step: lm-eval's aggregation of its metric, else the examples' mean."""
    rows = []
    for task in sorted((StepScores.of(m) for m in matrices), key=lambda t: (t.run, t.task)):
        for step in task.steps:
            score, n = task.at(step)
            rows.append({"run": task.run, "task": task.task, "category": task.category, "step": int(step),
                         "score": score if n and np.isfinite(score) else None, "n_examples": n,
                         "metric": task.metric})
    return rows


def group_scores(store: Store, metric: str | None = None, categories: dict[str, str] | None = None,
                 runs: list[str] | None = None) -> list[dict]:
    """Size-weighted mean score per (run, category, step) over the store's per-example records."""
    return weighted_means(store_matrices(store, runs, categories, metric))


def weighted_means(matrices: Iterable[TaskMatrix]) -> list[dict]:
    """Every group's score at each step its tasks all have, as lm-eval scores a group.

    lm-eval tasks count in every group of their path (``mmlu`` and ``mmlu_stem``) whose aggregate_metric_list
    names their metric and filter: ``sum(score_i * size_i) / sum(size_i)`` over the group's tasks with
    ``weight_by_size``, the plain mean of their scores without. Other tasks make one group per category, the
    mean over all its examples. Each matrix is reduced to its per-step scores as it arrives.
    """
    groups: dict[tuple[str, str], list[StepScores]] = defaultdict(list)
    by_size: dict[tuple[str, str], bool] = {}
    for matrix in matrices:
        task = StepScores.of(matrix)
        levels = [level for level in task.groups if task.scored_by(level)]
        for level in levels:
            groups[(task.run, level["name"])].append(task)
            by_size[(task.run, level["name"])] = level["weight_by_size"]
        if not task.groups:
            groups[(task.run, task.category)].append(task)
    rows = []
    for (run, name), members in sorted(groups.items()):
        for step in reduce(np.intersect1d, [m.steps for m in members]):
            scores, sizes = np.array([m.at(step) for m in members]).T
            weights = sizes if by_size.get((run, name), True) else np.ones_like(sizes)
            n = int(sizes.sum())
            metrics = {m.metric for m in members if m.metric}
            rows.append({"run": run, "category": name, "step": int(step),
                         "score": float((scores * weights).sum() / weights.sum()) if n else None,
                         "n_tasks": len(members), "n_examples": n,
                         "metric": metrics.pop() if len(metrics) == 1 else None})
    return rows
