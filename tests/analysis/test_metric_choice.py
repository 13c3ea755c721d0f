"""--metric: scores, predictions and ensembles follow the chosen per-example metric (acc_norm by characters)."""

import io
import json

import numpy as np
import pytest

from ckptlens.analysis.ensemble import ensemble_choices
from ckptlens.analysis.matrix import store_matrices, store_matrix
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, export_records, records_table

# Two checkpoints, one example with a short and a long choice: by summed loglik the short one wins,
# per character (lm-eval's acc_norm) the long one, which is gold.
LOGLIKS = {10: [-2.0, -3.0], 20: [-2.5, -2.8]}
CHARS = [2, 10]


def _unit(step: int, task: str = "arc", metrics=None, prompt="p0") -> list[dict]:
    return [{
        "run": "r", "checkpoint": f"step{step}", "step": step, "task": task, "kind": "multiple_choice",
        "example_id": "0", "logliks": LOGLIKS[step], "choice_chars": CHARS, "pred": 0, "gold": 1,
        "output": "ab", "target": "long answer", "correct": False, "score": 0.0, "prompt_hash": prompt,
        "metrics": metrics if metrics is not None else [("acc", 0.0), ("acc_norm", 1.0)],
    }]


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    for step in LOGLIKS:
        store.write_unit("r", f"step{step}", "arc", records_table(_unit(step)))
        store.write_unit("r", f"step{step}", "gen", records_table(_unit(step, "gen", [("exact_match", 1.0)])))
    return store


def test_the_default_is_the_tasks_first_metric(store):
    matrix = store_matrix(store, "r", "arc")
    assert matrix.score.tolist() == [[0.0, 0.0]] and matrix.pred.tolist() == [[0, 0]]
    assert store_matrix(store, "r", "gen").score.tolist() == [[1.0, 1.0]]


def test_acc_norm_scores_predicts_and_ensembles_per_character(store):
    matrix = store_matrix(store, "r", "arc", metric="acc_norm")
    assert matrix.score.tolist() == [[1.0, 1.0]]
    assert matrix.pred.tolist() == [[1, 1]]
    np.testing.assert_allclose(matrix.logliks[:, 0], [[-1.0, -0.3], [-1.25, -0.28]])
    assert ensemble_choices(matrix.logliks, 2, "mean-logprob").tolist() == [[1]]
    assert ensemble_choices(store_matrix(store, "r", "arc").logliks, 2, "mean-logprob").tolist() == [[0]]


def test_a_task_without_the_metric_is_left_out_of_whole_store_analyses(store):
    with pytest.warns(UserWarning, match="r/gen: no per-example 'acc_norm'"):
        tasks = [m.task for m in store_matrices(store, metric="acc_norm")]
    assert tasks == ["arc"]
    with pytest.raises(CkptlensError, match="pick a --metric the task has"):
        store_matrix(store, "r", "gen", metric="acc_norm")


def test_a_prompt_that_changed_between_checkpoints_is_an_error_naming_both(tmp_path):
    store = Store(tmp_path / "store")
    store.write_unit("r", "step10", "arc", records_table(_unit(10, prompt="aaaa")))
    store.write_unit("r", "step20", "arc", records_table(_unit(20, prompt="bbbb")))
    with pytest.raises(CkptlensError, match="example 0 has prompt aaaa at step10 but bbbb at step20"):
        store_matrix(store, "r", "arc")


def test_records_export_metrics_as_a_json_object(store):
    out = io.StringIO()
    export_records(store, out, "jsonl", tasks=["arc"])
    assert json.loads(out.getvalue().splitlines()[0])["metrics"] == {"acc": 0.0, "acc_norm": 1.0}
    out = io.StringIO()
    export_records(store, out, "csv", tasks=["arc"])
    assert '"{""acc"": 0.0, ""acc_norm"": 1.0}"' in out.getvalue()


def test_a_metric_no_task_has_is_named_with_each_tasks_metrics(store, cli):
    for command in ("scores", "select"):
        code, _, err = cli(command, "--store", store.root, "--metric", "bogus_metric")
        assert code == 2 and "no per-example scores" not in err and "evaluate or import" not in err
        assert "--metric 'bogus_metric': no task has it; the tasks' metrics: arc: acc, acc_norm; gen: " \
               "exact_match" in err
