"""The linearity gap on a store written by hand, checked against numbers worked out on paper."""

import pytest

from ckptlens.analysis.linearity import linearity_gaps, summarise_gaps
from ckptlens.store import Store, drift_table, records_table

# Base run: per step, the two examples' per-choice log-likelihoods (gold is 0 then 1; pred is the argmax).
BASE = {
    10: [[-1.0, -2.0], [-1.0, -3.0]],  # correct [1, 0], gold logliks -1, -3
    20: [[-2.0, -1.0], [-2.0, -1.0]],  # correct [0, 1], gold logliks -2, -1
    30: [[-0.5, -1.0], [-2.0, -0.5]],  # correct [1, 1], gold logliks -0.5, -0.5
    40: [[-3.0, -1.0], [-1.0, -4.0]],  # correct [0, 0], gold logliks -3, -4
}
# Averaged run (window 2); its third example is not in the base run and must be ignored.
AVERAGED = {
    10: [[-1.0, -2.0], [-1.0, -2.0], [-1.0, -2.0]],  # no full window at the first step: no row
    20: [[-1.0, -2.0], [-2.0, -1.0], [-1.0, -2.0]],  # score 1, gold logliks -1, -1
    30: [[-1.0, -2.0], [-1.0, -2.0], [-1.0, -2.0]],  # score 0.5, gold logliks -1, -2
    40: [[-2.0, -1.0], [-2.0, -1.0], [-2.0, -1.0]],  # score 0.5, gold logliks -2, -1
}
GOLDS = [0, 1, 0]


def mc_rows(run, step, logliks):
    rows = []
    for i, ll in enumerate(logliks):
        pred = max(range(len(ll)), key=ll.__getitem__)
        rows.append(dict(run=run, checkpoint=f"step{step}", step=step, task="facts", category="knowledge",
                         kind="multiple_choice", example_id=f"e{i}", logliks=ll, pred=pred, gold=GOLDS[i],
                         output=str(pred), target=str(GOLDS[i]), correct=pred == GOLDS[i],
                         score=float(pred == GOLDS[i])))
    return rows


def generation_rows(run, step, scores):
    return [dict(run=run, checkpoint=f"step{step}", step=step, task="recall", category="knowledge",
                 kind="generation", example_id=f"g{i}", output="x", target="y", correct=s == 1.0, score=s)
            for i, s in enumerate(scores)]


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    for step in BASE:
        store.write_unit("base", f"step{step}", "facts", records_table(mc_rows("base", step, BASE[step])))
        store.write_unit("avg", f"step{step}", "facts", records_table(mc_rows("avg", step, AVERAGED[step])))
        base_recall = [1.0, 0.0] if step % 20 else [0.0, 0.0]
        store.write_unit("base", f"step{step}", "recall", records_table(generation_rows("base", step, base_recall)))
        store.write_unit("avg", f"step{step}", "recall", records_table(generation_rows("avg", step, [1.0, 1.0])))
    store.write_run_info("base", {"series": "/runs/base"})
    store.write_run_info("avg", {"series": "/runs/avg2", "averaged_from": "/runs/base", "window": 2})
    return store


def test_gaps_per_step_match_hand_computation(store):
    rows = [r for r in linearity_gaps(store) if r.task == "facts"]
    assert [(r.run, r.averaged_run, r.window, r.step, r.n_examples) for r in rows] == [
        ("base", "avg", 2, 20, 2), ("base", "avg", 2, 30, 2), ("base", "avg", 2, 40, 2)
    ]
    assert [(r.averaged_score, r.member_score) for r in rows] == [(1.0, 0.5), (0.5, 0.75), (0.5, 0.5)]
    assert [r.score_gap for r in rows] == [0.5, -0.25, 0.0]
    # step 20: averaged gold logliks (-1, -1) against member means (-1.5, -2): gaps 0.5 and 1.0
    assert [r.gold_loglik_gap for r in rows] == [0.75, -0.5, 0.5]


def test_generation_task_has_a_score_gap_and_no_loglik_gap(store):
    rows = [r for r in linearity_gaps(store) if r.task == "recall"]
    assert [(r.step, r.member_score, r.score_gap) for r in rows] == [(s, 0.25, 0.75) for s in (20, 30, 40)]
    assert all(r.gold_loglik_gap is None for r in rows)


def test_last_keeps_the_final_fraction_of_the_base_run(store):
    assert {r.step for r in linearity_gaps(store, last=0.3)} == {30, 40}  # steps >= 0.7 * 40


def test_summary_averages_the_steps_of_each_task_and_window(store):
    facts, recall = summarise_gaps(linearity_gaps(store))
    assert (facts.task, facts.window, facts.n_steps) == ("facts", 2, 3)
    assert facts.mean_score_gap == pytest.approx(0.25 / 3)
    assert facts.mean_abs_score_gap == pytest.approx(0.25)
    assert facts.mean_gold_loglik_gap == pytest.approx(0.25)
    assert recall.mean_gold_loglik_gap is None and recall.to_dict()["mean_score_gap"] == pytest.approx(0.75)


def test_store_without_averaged_runs_has_no_gaps(tmp_path):
    store = Store(tmp_path / "store")
    store.write_unit("base", "step10", "facts", records_table(mc_rows("base", 10, BASE[10])))
    assert linearity_gaps(store) == []


def test_summary_holds_when_the_mean_gap_is_within_the_score_noise(store):
    facts, recall = summarise_gaps(linearity_gaps(store))
    # facts scores by step 0.5, 0.5, 1, 0: population std sqrt(0.125); mean gap 0.083 is inside it
    assert facts.score_noise == pytest.approx(0.125**0.5) and facts.holds
    # recall scores 0.5, 0, 0.5, 0: std 0.25; the averaged model is 0.75 better than its members: not first order
    assert recall.score_noise == pytest.approx(0.25) and not recall.holds


def test_window_drift_sums_the_recorded_neighbour_steps_inside_each_window(store):
    assert all(r.window_drift is None for r in linearity_gaps(store))  # nothing recorded yet
    moves = {20: 0.1, 30: 0.2, 40: 0.4}
    rows = [dict(step_a=b - 10, step_b=b, module="all", l2=1.0, relative_l2=d, cosine=0.9) for b, d in moves.items()]
    rows.append(dict(step_a=10, step_b=20, module="model.embed_tokens", l2=9.0, relative_l2=9.0, cosine=0.1))
    store.write_drift("base", drift_table(rows))
    facts = [r for r in linearity_gaps(store) if r.task == "facts"]
    assert [(r.step, r.window_drift) for r in facts] == [(20, 0.1), (30, 0.2), (40, 0.4)]
    assert summarise_gaps(linearity_gaps(store))[0].mean_window_drift == pytest.approx(0.7 / 3)


def test_window_drift_needs_every_step_of_the_window(store):
    store.write_drift("base", drift_table([dict(step_a=10, step_b=20, module="all", l2=1.0, relative_l2=0.1,
                                                 cosine=0.9)]))
    facts = [r for r in linearity_gaps(store) if r.task == "facts"]
    assert [(r.step, r.window_drift) for r in facts] == [(20, 0.1), (30, None), (40, None)]
