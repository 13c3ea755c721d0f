"""An ensemble's per-checkpoint predictions as an Arrow table, checked against the members and the stability rows."""

import numpy as np
import pytest

from ckptlens.analysis.predictions import ensemble_predictions
from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.errors import CkptlensError
from tests.analysis.test_stability import STEPS, store  # noqa: F401  (the hand-written store fixture)


def test_rows_are_members_and_the_ensemble_of_each_window(store):  # noqa: F811
    table = ensemble_predictions(store, "base", "facts", window=2, last=0.5)
    assert table.num_rows == 3 * 100 * 2  # window ends 30, 40, 50 x 100 examples x 2 members
    rows = table.to_pylist()
    ends = sorted({r["step"] for r in rows})
    assert ends == [30, 40, 50]
    first = [r for r in rows if r["step"] == 30 and r["example_id"] == "e0"]
    assert [r["member_step"] for r in first] == [20, 30]
    records = {(r["step"], r["example_id"]): r for r in store.read(["base"], ["facts"]).to_pylist()}
    assert all(r["member_pred"] == records[(r["member_step"], r["example_id"])]["pred"] for r in rows)
    assert all(r["correct"] == float(r["pred"] == r["gold"]) for r in rows)
    # the mean of its `correct` per step is the ensemble row of the stability table
    vote = next(r for r in stability_table(store, StabilityConfig(last=0.5, windows=(2,), bootstrap=0))
                if r.task == "facts" and r.method == "ensemble-vote")
    per_step = table.group_by("step").aggregate([("correct", "mean")])["correct_mean"].to_numpy()  # members: same mean
    assert vote.mean_score == pytest.approx(float(np.mean(per_step)))


def test_a_window_without_enough_checkpoints_is_an_error(store):  # noqa: F811
    with pytest.raises(CkptlensError, match="no window of 9"):
        ensemble_predictions(store, "base", "facts", window=9)
    assert len(STEPS) == 5
