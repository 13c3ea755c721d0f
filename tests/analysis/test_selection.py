import numpy as np
import pytest

from ckptlens.analysis.selection import ALL_TASKS, SelectConfig, select_checkpoints
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, records_table

STEPS = list(range(10, 110, 10))


def write_task(store, task, accuracy_by_step, n=400, seed=0):
    rng = np.random.default_rng(seed)
    for step in STEPS:
        correct = rng.random(n) < accuracy_by_step(step)
        rows = [dict(run="r", checkpoint=f"s{step}", step=step, task=task, kind="multiple_choice", category="k",
                     example_id=str(i), logliks=[0.0, -1.0] if c else [-1.0, 0.0], pred=0 if c else 1, gold=0,
                     correct=bool(c), score=float(c)) for i, c in enumerate(correct)]
        store.write_unit("r", f"s{step}", task, records_table(rows))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path)
    write_task(store, "rising", lambda s: 0.6 + s / 1000)
    write_task(store, "coin", lambda s: 0.5, seed=1)  # chance level for 2 options: left out
    store.write_run_info("r", {"series": "/r"})
    return store


def test_selections_per_task_and_for_the_run(store):
    config = SelectConfig(last=0.5, window=2, splits=50)
    rows = select_checkpoints(store, config)
    assert {(r.task, r.rule) for r in rows} == {
        (t, rule) for t in ("rising", ALL_TASKS) for rule in ("raw", "trailing-mean", "ensemble-vote")
    }
    raw = next(r for r in rows if r.task == "rising" and r.rule == "raw")
    assert raw.win_rate == raw.loss_rate == raw.mean_gain == 0.0
    assert raw.selected_step in STEPS[4:]  # candidates: the final half of training
    for r in rows:
        assert 0 <= r.win_rate + r.loss_rate <= 1 and 0 <= r.held_out_score <= 1


def test_raw_pick_is_the_best_raw_score(store):
    from ckptlens.analysis.matrix import task_matrix

    m = task_matrix(store.read(), "r", "rising")
    candidates = [i for i, s in enumerate(m.steps) if s >= 50 and i >= 1]
    best = m.steps[max(candidates, key=lambda i: m.score[:, i].mean())]
    raw = next(r for r in select_checkpoints(store, SelectConfig(last=0.5, window=2, splits=5))
               if r.task == "rising" and r.rule == "raw")
    assert raw.selected_step == best


def test_unknown_run_is_a_clear_error(store):
    with pytest.raises(CkptlensError, match="no per-example records of nope"):
        select_checkpoints(store, run="nope")
