"""Score per checkpoint for raw, averaged and ensembled checkpoints: the curves the report draws."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts, text_scores
from ckptlens.analysis.matrix import TaskMatrix, task_matrices
from ckptlens.analysis.stability import DEFAULT_WINDOWS, averaged_runs
from ckptlens.store import Store


@dataclass(frozen=True)
class TrajectoryPoint:
    run: str
    task: str
    method: str
    window: int
    step: int
    score: float


def trajectories(store: Store, windows=DEFAULT_WINDOWS, rule: str = "vote") -> list[TrajectoryPoint]:
    """Every base run's task score by step: raw, ``average`` (where evaluated) and ``ensemble-<rule>``."""
    matrices = {(m.run, m.task): m for m in task_matrices(store.read())}
    base_runs, averaged = averaged_runs(store)
    points: list[TrajectoryPoint] = []
    for (run, task), matrix in sorted(matrices.items()):
        if run not in base_runs:
            continue
        points += _points(matrix, "raw", 1, matrix.steps, matrix.score.mean(axis=0))
        for n in windows:
            if n <= len(matrix.steps):
                scores = _ensemble_scores(matrix, n, rule)
                points += _points(matrix, f"ensemble-{rule}", n, matrix.steps[n - 1 :], scores)
            avg = matrices.get((averaged.get((run, n)), task))
            if avg is not None:
                points += _points(matrix, "average", n, avg.steps, avg.score.mean(axis=0))
    return points


def _ensemble_scores(matrix: TaskMatrix, window: int, rule: str) -> np.ndarray:
    if matrix.kind == "multiple_choice":
        return (ensemble_choices(matrix.logliks, window, rule) == matrix.gold[:, None]).mean(axis=0)
    return text_scores(ensemble_texts(matrix.outputs, window), matrix.targets, matrix.metric).mean(axis=0)


def _points(matrix: TaskMatrix, method: str, window: int, steps, scores) -> list[TrajectoryPoint]:
    return [
        TrajectoryPoint(matrix.run, matrix.task, method, window, int(s), float(v))
        for s, v in zip(steps, scores, strict=True)
    ]
