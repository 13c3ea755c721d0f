"""An ensemble's per-checkpoint predictions as one long Arrow table, to read in pandas or pyarrow.

One row per (window end step, example, member checkpoint): what that member chose, and what the
ensemble of the window ending at ``step`` chose. Pivot it to see where members disagree and which
of them the ensemble followed, without writing any ensembling code::

    table = ensemble_predictions(Store("store"), "demo", "capital_choice", window=4)
    df = table.to_pandas()
    df[df.step == 480].pivot(index="example_id", columns="member_step", values="member_pred")

Multiple-choice rows carry ``member_pred``/``pred`` (option index) and ``gold``; generation rows carry
``member_output``/``output`` (normalised text) and ``target``; ``member_correct``/``correct`` are the
per-example score (1.0 or 0.0) either way.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts
from ckptlens.analysis.integration import normalised
from ckptlens.analysis.matrix import TaskMatrix, store_matrix
from ckptlens.checkpoints import last_fraction
from ckptlens.errors import CkptlensError
from ckptlens.store import Store

PREDICTION_SCHEMA = pa.schema([
    ("run", pa.string()), ("task", pa.string()), ("rule", pa.string()), ("window", pa.int64()),
    ("step", pa.int64()),  # newest member: the step the ensemble stands for
    ("example_id", pa.string()), ("member_step", pa.int64()),
    ("member_pred", pa.int64()), ("member_output", pa.string()), ("member_correct", pa.float64()),
    ("pred", pa.int64()), ("output", pa.string()), ("correct", pa.float64()),
    ("gold", pa.int64()), ("target", pa.string()),
])


def ensemble_predictions(
    store: Store, run: str, task: str, window: int, rule: str = "vote", last: float | None = None
) -> pa.Table:
    """Members' and ensemble's predictions for every trailing window of ``window`` checkpoints of (run, task).

    ``last`` keeps the windows ending in the final fraction of training (the stability window), None all
    windows with ``window - 1`` predecessors. Generation tasks always vote (``rule`` is ignored).
    """
    if window < 1:
        raise CkptlensError(f"an ensemble window is at least 1 checkpoint, got {window}")
    matrix = store_matrix(store, run, task)
    if matrix is None:
        raise CkptlensError(f"no scored per-example records for run {run!r} and task {task!r} in {store.root}")
    kept = set(last_fraction(matrix.steps, last)) if last is not None else set(matrix.steps.tolist())
    ends = [t for t in range(window - 1, len(matrix.steps)) if int(matrix.steps[t]) in kept]
    if not ends:
        raise CkptlensError(f"{run}/{task}: no window of {window} checkpoints ends in the steps asked for; "
                            f"the run has {len(matrix.steps)} checkpoints")
    columns = _columns(matrix, window, rule, ends)
    return pa.table(columns, schema=PREDICTION_SCHEMA)


def _columns(matrix: TaskMatrix, n: int, rule: str, ends: list[int]) -> dict[str, list]:
    choice = matrix.kind == "multiple_choice"
    if choice:
        combined = ensemble_choices(matrix.logliks, n, rule, ends)
        correct = combined == matrix.gold[:, None]
    else:
        rule = "vote"
        combined = ensemble_texts(matrix.outputs, n, ends)
        correct = combined == normalised(matrix.targets)[:, None]
    members = normalised(matrix.outputs)
    # index arrays over (end, example, member), in that order
    end_i, ex_i, k = np.meshgrid(np.arange(len(ends)), np.arange(matrix.n_examples), np.arange(n), indexing="ij")
    member_t = np.asarray(ends)[end_i] - (n - 1) + k
    rows = end_i.size
    return {
        "run": [matrix.run] * rows, "task": [matrix.task] * rows, "rule": [rule] * rows, "window": [n] * rows,
        "step": matrix.steps[np.asarray(ends)[end_i]].ravel().tolist(),
        "example_id": matrix.example_ids[ex_i].ravel().tolist(),
        "member_step": matrix.steps[member_t].ravel().tolist(),
        "member_pred": matrix.pred[ex_i, member_t].ravel().tolist() if choice else [None] * rows,
        "member_output": [None] * rows if choice else members[ex_i, member_t].ravel().tolist(),
        "member_correct": matrix.score[ex_i, member_t].ravel().tolist(),
        "pred": combined[ex_i, end_i].ravel().tolist() if choice else [None] * rows,
        "output": [None] * rows if choice else combined[ex_i, end_i].ravel().tolist(),
        "correct": correct[ex_i, end_i].astype(float).ravel().tolist(),
        "gold": matrix.gold[ex_i].ravel().tolist() if choice else [None] * rows,
        "target": [None] * rows if choice else matrix.targets[ex_i].ravel().tolist(),
    }
