"""Score per checkpoint for raw, averaged and ensembled checkpoints: the curves the report draws.

The integrated curves come from ``analysis.integration.method_matrices`` over every step of the run, so the
report draws exactly the methods, windows and rules of its stability table, over the steps they all cover; the
raw curve covers all of training.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ckptlens.analysis.integration import method_matrices, raw_matrix
from ckptlens.analysis.matrix import Matrices, TaskMatrix


@dataclass(frozen=True)
class TrajectoryPoint:
    run: str
    task: str
    method: str
    window: int
    step: int
    score: float

    def to_dict(self) -> dict:
        return asdict(self)


def trajectories(
    loaded: Matrices, runs: tuple[set[str], dict[tuple[str, int], str]], windows: tuple[int, ...],
    rules: tuple[str, ...],
) -> list[TrajectoryPoint]:
    """Every base run's task score by step: raw, ``average`` of n (where evaluated) and ``ensemble-<rule>`` of n.

    ``runs``: the base runs and (base run, window) -> averaged run, as ``analysis.stability.averaged_runs``
    gives them.
    """
    base_runs, averaged = runs
    points: list[TrajectoryPoint] = []
    for (run, task), matrix in sorted(loaded.items()):
        if run not in base_runs:
            continue
        averages = {n: loaded[(name, task)] for (base, n), name in averaged.items()
                    if base == run and n in windows and (name, task) in loaded}
        points += task_trajectories(matrix, averages, windows, rules)
    return points


def task_trajectories(
    matrix: TaskMatrix, averages: dict[int, TaskMatrix], windows: tuple[int, ...], rules: tuple[str, ...]
) -> list[TrajectoryPoint]:
    """One task's curves: raw at every step, and each method over the steps all methods share (where the table
    compares them), each reduced to its score per step."""
    found = [raw_matrix(matrix), *method_matrices(matrix, averages, matrix.steps.tolist(), windows, rules)[1:]]
    return [
        TrajectoryPoint(matrix.run, matrix.task, m.method, m.window, int(step), float(score))
        for m in found
        for step, score in zip(m.steps, m.curve, strict=True)
    ]
