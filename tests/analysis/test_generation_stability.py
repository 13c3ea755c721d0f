"""Generative instability: IS counts changed normalised predictions, votes are scored by the task's metric,
example MTV of a continuous metric is the mean absolute change of the example's score."""

from __future__ import annotations

import numpy as np
import pytest

from ckptlens.analysis.integration import method_matrices
from ckptlens.analysis.matrix import task_matrices
from ckptlens.analysis.metrics import example_mtv, instability_score
from ckptlens.store import records_table
from ckptlens.tasks.metrics import char_f1

OUTPUTS = ["東京都", " 東京都 ", "東京", "大阪"]  # one example over four checkpoints; gold "東京"


def generation_records():
    rows = []
    for step, output in zip((10, 20, 30, 40), OUTPUTS):
        score = char_f1(output, "東京")
        rows.append({"run": "r", "checkpoint": f"step{step}", "step": step, "task": "jsquad", "category": "RC",
                     "kind": "generation", "example_id": "0", "output": output, "target": "東京", "score": score,
                     "correct": score == 1.0, "metrics": {"char_f1": score, "exact_match": 0.0}})
    return records_table(rows)


def test_raw_is_and_continuous_example_mtv():
    (matrix,) = task_matrices(generation_records())
    assert matrix.metric == "char_f1"
    raw = method_matrices(matrix, {}, list(matrix.steps), (), ("vote",))[0]  # no window: raw over all four steps
    # normalised: 東京都, 東京都, 東京, 大阪 -> changes at 2 of 3 neighbours
    assert instability_score(raw.outputs) == pytest.approx(2 / 3)
    # scores 0.8, 0.8, 1.0, 0.0 -> (0 + 0.2 + 1.0) / 3
    assert example_mtv(raw.score) == pytest.approx(1.2 / 3)


def test_text_votes_are_scored_by_the_task_metric():
    (matrix,) = task_matrices(generation_records())
    ensemble = method_matrices(matrix, {}, list(matrix.steps), (2,), ("vote",))[1]
    assert ensemble.method == "ensemble-vote"
    # windows (東京都, 東京都) -> 東京都; (東京都, 東京) tie -> newest 東京; (東京, 大阪) tie -> 大阪
    assert list(ensemble.outputs[0]) == ["東京都", "東京", "大阪"]
    np.testing.assert_allclose(ensemble.score[0], [0.8, 1.0, 0.0])
