"""Every analysis reads scores through the one builder, so on one store they agree.

The store here lacks one example at one checkpoint (an interrupted unit re-run on a subset), and one record
lacks the chosen metric: counted naively, both would move that step's score, and the capability curves would
disagree with the stability table.
"""

import numpy as np
import pytest

from ckptlens.analysis import metrics
from ckptlens.analysis.curves import task_curves
from ckptlens.analysis.groups import group_scores
from ckptlens.analysis.matrix import read_matrices, store_matrix
from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.report.verdict import best_checkpoints
from ckptlens.store import Store, records_table

STEPS = [10, 20, 30, 40, 50]
CORRECT = {  # example -> right (1) or wrong (0) at each step
    "e0": [0, 1, 1, 1, 1],
    "e1": [0, 0, 1, 0, 1],
    "e2": [1, 1, 0, 1, 1],
    "e3": [0, 0, 0, 1, 1],
    "gone": [1, 1, None, 1, 1],  # missing at step 30: always right elsewhere, so counting it lifts the curve
}
CONFIG = StabilityConfig(last=1.0, windows=(), bootstrap=0, adaptive=None)


def _rows(step: int, index: int, metric: str | None = None) -> list[dict]:
    rows = []
    for example, right in CORRECT.items():
        if right[index] is None:
            continue
        row = dict(run="r", checkpoint=f"step{step}", step=step, tokens_seen=step * 1000, task="facts",
                   category="knowledge", kind="multiple_choice", example_id=example, pred=1 - right[index], gold=0,
                   logliks=[-1.0, -2.0] if right[index] else [-2.0, -1.0], correct=bool(right[index]),
                   score=float(right[index]))
        if metric is not None:
            row["metrics"] = [(metric, float(right[index]))] if (example, step) != ("e2", 40) else [("other", 0.0)]
        rows.append(row)
    return rows


def _store(tmp_path, metric: str | None = None) -> Store:
    store = Store(tmp_path / "store")
    for index, step in enumerate(STEPS):
        store.write_unit("r", f"step{step}", "facts", records_table(_rows(step, index, metric)))
    store.write_run_info("r", {"series": "/runs/r"})
    return store


def _expected(dropped: set[str]) -> np.ndarray:
    kept = [right for example, right in CORRECT.items() if example not in dropped | {"gone"}]
    return np.mean(np.array(kept, dtype=float), axis=0)


@pytest.mark.filterwarnings("ignore:r/facts")
@pytest.mark.parametrize(("metric", "dropped"), [(None, set()), ("acc", {"e2"})])
def test_curves_stability_groups_and_verdict_agree_when_examples_are_missing(tmp_path, metric, dropped):
    store = _store(tmp_path, metric)
    expected = _expected(dropped)  # only the examples every checkpoint scores
    (curve,) = task_curves(store)
    (raw,) = stability_table(store, CONFIG)
    np.testing.assert_allclose(curve.scores, expected)
    assert curve.n_examples == raw.n_examples == len(CORRECT) - 1 - len(dropped)
    assert raw.mean_score == pytest.approx(curve.scores.mean())
    assert raw.task_mtv == pytest.approx(metrics.task_mtv(curve.scores))
    assert raw.std == pytest.approx(metrics.score_std(curve.scores))
    assert [g["score"] for g in group_scores(store)] == pytest.approx(expected.tolist())
    (best,) = best_checkpoints(read_matrices(store), {"r"}, last=1.0)
    assert best.score == pytest.approx(expected.max())
    np.testing.assert_array_equal(curve.tokens, np.array(STEPS) * 1000.0)


def test_the_builder_says_which_examples_it_dropped_and_why(tmp_path):
    store = _store(tmp_path, "acc")
    with pytest.warns(UserWarning) as caught:
        matrix = store_matrix(store, "r", "facts")
    said = " ".join(str(w.message) for w in caught)
    assert "1 of 5 examples are missing at some checkpoints" in said
    assert "1 of 4 examples have no 'acc' value at some checkpoints" in said
    assert matrix.example_ids.tolist() == ["e0", "e1", "e3"] and matrix.metric == "acc"
    np.testing.assert_allclose(matrix.curve, matrix.score.mean(axis=0))


@pytest.mark.filterwarnings("ignore:r/facts")
def test_an_average_is_compared_on_the_examples_its_base_run_keeps(tmp_path):
    store = _store(tmp_path)
    for index, step in enumerate(STEPS):
        rows = [dict(row, run="r-avg2") for row in _rows(step, index)]
        rows += [dict(rows[0], example_id="gone")] if step == 30 else []  # the average has every example
        store.write_unit("r-avg2", f"step{step}", "facts", records_table(rows))
    store.write_run_info("r-avg2", {"series": "/runs/r-avg2", "averaged_from": "/runs/r", "window": 2})
    rows = {r.method: r for r in stability_table(store, StabilityConfig(last=1.0, windows=(2,), bootstrap=0,
                                                                        adaptive=None, rules=("vote",)))}
    assert rows["average"].n_examples == rows["raw"].n_examples == 4
    assert rows["average"].mean_score == pytest.approx(_expected(set())[1:].mean())  # same records, same scores
