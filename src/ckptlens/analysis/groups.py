"""A group's score along training, as lm-eval aggregates a group: the size-weighted mean of its tasks.

lm-eval's groups (``mmlu`` over its 57 subtasks) report, with ``weight_by_size``,
the mean of the subtasks' scores weighted by their number of documents, which
is the mean over every document of the group. ``ckptlens eval --tasks
lm-eval:mmlu`` stores each subtask with the group as its category, so the
group's curve is the mean score over all examples of the category at each step
the category's tasks all have.

>>> group_scores(Store("store"), metric="acc")  # doctest: +SKIP
[{'run': 'pythia-160m', 'group': 'mmlu', 'step': 143000, 'score': 0.254, 'n_tasks': 57, 'n_examples': 14042}]
"""

from __future__ import annotations

from collections import defaultdict
from functools import reduce

import numpy as np

from ckptlens.analysis.matrix import TaskMatrix, store_matrices
from ckptlens.store import Store


def group_scores(store: Store, metric: str | None = None) -> list[dict]:
    """Size-weighted mean score per (run, category, step) over the store's per-example records."""
    return weighted_means(list(store_matrices(store, metric=metric)))


def weighted_means(matrices: list[TaskMatrix]) -> list[dict]:
    """The mean over every example of each (run, category)'s tasks, at the steps all of them have."""
    groups: dict[tuple[str, str], list[TaskMatrix]] = defaultdict(list)
    for matrix in matrices:
        groups[(matrix.run, matrix.category)].append(matrix)
    rows = []
    for (run, group), members in sorted(groups.items()):
        steps = reduce(np.intersect1d, [m.steps for m in members])
        for step in steps:
            scores = np.concatenate([m.score[:, int(np.flatnonzero(m.steps == step)[0])] for m in members])
            rows.append({"run": run, "group": group, "step": int(step), "score": float(np.nanmean(scores)),
                         "n_tasks": len(members), "n_examples": int(len(scores))})
    return rows
