"""Raw, averaged and ensembled checkpoints of one task over the scored window, as example x checkpoint matrices.

The stability table's rows, the adaptive window choice and the failure flags all start from these: one
``MethodMatrix`` per (method, window), its columns the steps of the newest member of each window that lies in the
scored window.

- ``raw``: the checkpoints themselves (window 1);
- ``average``: the evaluated averaged checkpoints (steps from the first of the scored window on; skipped when
  their examples differ from the base run's);
- ``ensemble-<rule>``: the trailing window's stored predictions combined (generation: ``vote`` over texts), at
  each checkpoint of the scored window with n - 1 predecessors.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts, text_scores
from ckptlens.analysis.matrix import TaskMatrix
from ckptlens.tasks.metrics import normalise_text

RAW = "raw"
AVERAGE = "average"
ENSEMBLE_PREFIX = "ensemble-"


@dataclass(frozen=True)
class MethodMatrix:
    method: str
    window: int  # checkpoints integrated; 1 for raw
    steps: np.ndarray  # (T,) step of the newest member of each window
    score: np.ndarray  # (E, T) per-example score in [0, 1]
    outputs: np.ndarray  # (E, T) chosen option, or normalised generated text

    @property
    def curve(self) -> np.ndarray:
        """The task score at each step: the mean over examples."""
        return self.score.mean(axis=0)


def method_matrices(
    matrix: TaskMatrix, averages: dict[int, TaskMatrix], window: list[int], windows: tuple[int, ...],
    rules: tuple[str, ...],
) -> list[MethodMatrix]:
    """Raw first, then ensembles by window and rule, then averages by window (the stability table's order)."""
    found = [raw_matrix(matrix.select_steps(window))]
    found += _ensembles(matrix, window, windows, rules)
    for n, avg in sorted(averages.items()):
        steps = [s for s in avg.steps if s >= window[0]]
        if len(steps) >= 2 and np.array_equal(avg.example_ids, matrix.example_ids):
            found.append(_evaluated(avg.select_steps(steps), AVERAGE, n))
    return found


def raw_matrix(matrix: TaskMatrix) -> MethodMatrix:
    """The evaluated checkpoints of ``matrix`` as the ``raw`` method."""
    return _evaluated(matrix, RAW, 1)


def normalised(texts: np.ndarray) -> np.ndarray:
    """Generated texts in the form they are compared in (``tasks.metrics.normalise_text``)."""
    return np.vectorize(normalise_text, otypes=[object])(texts) if texts.size else texts


def _evaluated(matrix: TaskMatrix, method: str, window: int) -> MethodMatrix:
    outputs = matrix.pred if matrix.kind == "multiple_choice" else normalised(matrix.outputs)
    return MethodMatrix(method, window, matrix.steps, matrix.score, outputs)


def _ensembles(matrix: TaskMatrix, window: list[int], windows: tuple[int, ...], rules: tuple[str, ...]):
    if matrix.kind == "generation":
        rules = ("vote",)
    elif not matrix.logliks.shape[2]:
        rules = ()
    found = []
    for n in (n for n in windows if n > 1):
        ends = [t for t in range(n - 1, len(matrix.steps)) if matrix.steps[t] in window]
        if len(ends) < 2:
            continue
        for rule in rules:
            if matrix.kind == "multiple_choice":
                outputs = ensemble_choices(matrix.logliks, n, rule, ends)
                score = (outputs == matrix.gold[:, None]).astype(float)
            else:
                outputs = ensemble_texts(matrix.outputs, n, ends)
                score = text_scores(outputs, matrix.targets, matrix.metric)
            found.append(MethodMatrix(f"{ENSEMBLE_PREFIX}{rule}", n, matrix.steps[ends], score, outputs))
    return found
