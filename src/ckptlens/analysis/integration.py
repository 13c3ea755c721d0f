"""Raw, averaged and ensembled checkpoints of one task over the scored window, as example x checkpoint matrices.

The stability table's rows, the adaptive window choice and the failure flags all start from these: one
``MethodMatrix`` per (method, window), its columns the steps of the newest member of each window that lies in the
scored window.

- ``raw``: the checkpoints themselves (window 1);
- ``average``: the evaluated averaged checkpoints (steps from the first of the scored window on; skipped when
  their examples differ from the base run's);
- ``ensemble-<rule>``: the trailing window's stored predictions combined (generation: ``vote`` over texts), at
  each checkpoint of the scored window with n - 1 predecessors.

**Like with like.** Every method is then restricted to the span of steps that all of them cover (the latest
first step to the earliest last step), so rows set side by side cover the same checkpoints: after
``eval --last 0.2`` an ensemble of 8 starts 7 checkpoints into the final window, and raw is compared from
there too (``shared_span``). A window that leaves fewer than 2 checkpoints in the scored window is left out,
and one that leaves fewer than 3 is kept, each with a warning: its MTV rests on one difference.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts, text_scores
from ckptlens.analysis.matrix import TaskMatrix, step_scores
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
    aggregated: np.ndarray | None = None  # (T,) lm-eval's task score (``TaskMatrix.curve``) when not the mean

    @property
    def curve(self) -> np.ndarray:
        """The task score at each step: lm-eval's aggregation when set, else ``matrix.step_scores``."""
        return step_scores(self.score) if self.aggregated is None else self.aggregated


def method_matrices(
    matrix: TaskMatrix, averages: dict[int, TaskMatrix], window: list[int], windows: tuple[int, ...],
    rules: tuple[str, ...],
) -> list[MethodMatrix]:
    """Raw first, then ensembles by window and rule, then averages by window (the stability table's order),
    all over the span they share (``shared_span``)."""
    found = [raw_matrix(matrix.select_steps(window))]
    found += _ensembles(matrix, window, windows, rules)
    for n, avg in sorted(averages.items()):
        steps = [s for s in avg.steps if window[0] <= s <= window[-1]]
        same = avg.on_examples(matrix.example_ids)  # the examples the base run scores at every step
        if same is None:
            warnings.warn(f"{avg.run}/{avg.task}: the average of {n} lacks some of {matrix.run}'s examples; "
                          "left out (evaluate it on the same examples)", stacklevel=3)
        elif _enough(matrix, f"average of {n}", len(steps), window):
            found.append(_evaluated(same.select_steps(steps), AVERAGE, n))
    return shared_span(found)


def shared_span(found: list[MethodMatrix]) -> list[MethodMatrix]:
    """Every method restricted to the steps from the latest first step to the earliest last step of all.

    >>> a = MethodMatrix("raw", 1, np.array([1, 2, 3, 4]), np.zeros((1, 4)), np.zeros((1, 4)))
    >>> b = MethodMatrix("ensemble-vote", 3, np.array([3, 4]), np.zeros((1, 2)), np.zeros((1, 2)))
    >>> [m.steps.tolist() for m in shared_span([a, b])]
    [[3, 4], [3, 4]]
    """
    lo, hi = max(int(m.steps[0]) for m in found), min(int(m.steps[-1]) for m in found)
    return [_within(m, lo, hi) for m in found]


def _within(m: MethodMatrix, lo: int, hi: int) -> MethodMatrix:
    keep = (m.steps >= lo) & (m.steps <= hi)
    aggregated = None if m.aggregated is None else m.aggregated[keep]
    return m if keep.all() else MethodMatrix(m.method, m.window, m.steps[keep], m.score[:, keep], m.outputs[:, keep],
                                             aggregated)


def _enough(matrix: TaskMatrix, what: str, n_steps: int, window: list[int]) -> bool:
    """Whether a window leaves at least 2 checkpoints in the scored window (the final one, or a phase); warns
    below 3."""
    if n_steps < 3:
        fate = "left out" if n_steps < 2 else "kept, but its MTV is one difference"
        warnings.warn(f"{matrix.run}: {what} covers {n_steps} of the {len(window)} checkpoints scored (steps "
                      f"{window[0]}-{window[-1]}; {fate}); evaluate earlier checkpoints or use smaller --windows",
                      stacklevel=3)
    return n_steps >= 2


def raw_matrix(matrix: TaskMatrix) -> MethodMatrix:
    """The evaluated checkpoints of ``matrix`` as the ``raw`` method."""
    return _evaluated(matrix, RAW, 1)


def normalised(texts: np.ndarray) -> np.ndarray:
    """Generated texts in the form they are compared in (``tasks.metrics.normalise_text``)."""
    return np.vectorize(normalise_text, otypes=[object])(texts) if texts.size else texts


def stored_scores(matrix: TaskMatrix) -> list[dict[str, float]]:
    """Per example, {normalised output: its stored score}: a voted text's score under a model metric (COMET)."""
    texts = normalised(matrix.outputs)
    return [dict(zip(row, scores)) for row, scores in zip(texts.tolist(), matrix.score.tolist())]


def _evaluated(matrix: TaskMatrix, method: str, window: int) -> MethodMatrix:
    outputs = matrix.pred if matrix.kind == "multiple_choice" else normalised(matrix.outputs)
    return MethodMatrix(method, window, matrix.steps, matrix.score, outputs,
                        None if matrix.info is None else matrix.curve)


def _ensembles(matrix: TaskMatrix, window: list[int], windows: tuple[int, ...], rules: tuple[str, ...]):
    if matrix.info is not None and matrix.info.aggregation not in (None, "mean"):
        return []  # an ensemble's per-example scores have no lm-eval aggregate to set beside the raw one
    if matrix.kind == "generation":
        rules = ("vote",)
    elif not matrix.logliks.shape[2]:
        rules = ()
    found = []
    for n in (n for n in windows if n > 1):
        ends = [t for t in range(n - 1, len(matrix.steps)) if matrix.steps[t] in window]
        if not rules or not _enough(matrix, f"ensemble of {n}", len(ends), window):
            continue
        for rule in rules:
            if matrix.kind == "multiple_choice":
                outputs = ensemble_choices(matrix.logliks, n, rule, ends)
                score = (outputs == matrix.gold[:, None]).astype(float)
            else:
                outputs = ensemble_texts(matrix.outputs, n, ends)
                score = text_scores(outputs, matrix.targets, matrix.metric, stored_scores(matrix))
            found.append(MethodMatrix(f"{ENSEMBLE_PREFIX}{rule}", n, matrix.steps[ends], score, outputs))
    return found
