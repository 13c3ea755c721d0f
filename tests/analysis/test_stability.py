"""The stability table on a store written by hand, checked against direct computations."""

import numpy as np
import pytest

from ckptlens.analysis.matrix import task_matrix
from ckptlens.analysis.stability import StabilityConfig, StabilityRow, near_chance, stability_table, summarise
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, records_table

STEPS = [10, 20, 30, 40, 50]


def mc_rows(run, task, step, preds, golds, n_choices=2, logliks=None):
    rows = []
    for i, (pred, gold) in enumerate(zip(preds, golds)):
        ll = logliks[i] if logliks is not None else [-2.0 if c != pred else -1.0 for c in range(n_choices)]
        rows.append(
            dict(run=run, checkpoint=f"step{step}", step=step, task=task, category="knowledge",
                 kind="multiple_choice", example_id=f"e{i}", logliks=ll, pred=pred, gold=gold,
                 output=str(pred), target=str(gold), correct=pred == gold, score=float(pred == gold))
        )
    return rows


def write(store, run, task, step, rows):
    store.write_unit(run, f"step{step}", task, records_table(rows))


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path / "store")
    golds = [i % 2 for i in range(100)]
    rng = np.random.default_rng(1)
    for step in STEPS:
        preds = [g if rng.random() < 0.8 else 1 - g for g in golds]
        write(store, "base", "facts", step, mc_rows("base", "facts", step, preds, golds))
        # a task answered "0" at even steps and "1" at odd: flips everything, learns nothing
        always = [step // 10 % 2] * len(golds)
        write(store, "base", "yesno", step, mc_rows("base", "yesno", step, always, golds))
        avg_preds = golds[:99] + [0]  # averaged checkpoints: stable, one example always wrong
        write(store, "base-avg2", "facts", step, mc_rows("base-avg2", "facts", step, avg_preds, golds))
    store.write_run_info("base", {"series": "/runs/base"})
    store.write_run_info("base-avg2", {"series": "/runs/base-avg2", "averaged_from": "/runs/base", "window": 2})
    return store


def test_raw_row_matches_direct_computation(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2,)))
    raw = next(r for r in rows if r.task == "facts" and r.method == "raw")
    assert (raw.first_step, raw.last_step, raw.n_checkpoints) == (30, 50, 3)  # steps >= 0.5 * 50
    m = task_matrix(store.read(), "base", "facts").select_steps([30, 40, 50])
    s = m.score.mean(axis=0)
    assert raw.mean_score == pytest.approx(s.mean())
    assert raw.task_mtv == pytest.approx(np.abs(np.diff(s)).mean())
    assert raw.example_mtv == pytest.approx(np.abs(np.diff(m.score, axis=1)).mean())
    assert raw.instability_score == pytest.approx((m.pred[:, 1:] != m.pred[:, :-1]).mean())
    assert raw.chance == 0.5 and not raw.near_chance


def test_averaged_run_is_linked_and_not_listed_as_a_run(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2,)))
    assert {r.run for r in rows} == {"base"}
    avg = next(r for r in rows if r.task == "facts" and r.method == "average")
    assert avg.window == 2 and avg.mean_score == pytest.approx(0.99)
    assert avg.example_mtv == 0.0 and avg.instability_score == 0.0


def test_ensemble_rows_use_the_trailing_window(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2, 8)))
    ens = [r for r in rows if r.task == "facts" and r.method.startswith("ensemble")]
    assert {(r.method, r.window) for r in ens} == {("ensemble-vote", 2), ("ensemble-mean-logprob", 2)}
    assert all(r.n_checkpoints == 3 for r in ens)  # window 8 needs 8 checkpoints: left out


def test_near_chance_task_is_flagged_and_left_out_of_the_summary(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2,)))
    yesno = [r for r in rows if r.task == "yesno"]
    assert yesno and all(r.near_chance for r in yesno)
    assert next(r for r in yesno if r.method == "raw").instability_score == 1.0
    raw_summary = next(s for s in summarise(rows) if s["method"] == "raw")
    facts = next(r for r in rows if r.task == "facts" and r.method == "raw")
    assert raw_summary["n_tasks"] == 1 and raw_summary["example_mtv"] == facts.example_mtv


def test_near_chance_rule():
    assert near_chance(0.27, 0.25, 1000)
    assert not near_chance(0.40, 0.25, 1000)
    assert near_chance(0.32, 0.25, 20)  # 3 standard errors of 20 examples is wider than 5 points


def test_examples_missing_at_a_checkpoint_are_dropped_with_a_warning(tmp_path):
    store = Store(tmp_path)
    for step in STEPS:
        n = 3 if step == 30 else 4
        write(store, "r", "t", step, mc_rows("r", "t", step, [0] * n, [0] * n))
    with pytest.warns(UserWarning, match="1 of 4 examples"):
        m = task_matrix(store.read(), "r", "t")
    assert m.n_examples == 3


def test_too_few_checkpoints_in_window_is_a_clear_error(store):
    with pytest.raises(CkptlensError, match="at least 2"):
        stability_table(store, StabilityConfig(last=0.1))


def test_rows_carry_bootstrap_intervals(store):
    raw = next(r for r in stability_table(store, StabilityConfig(last=0.5)) if r.method == "raw")
    assert raw.example_mtv_lo <= raw.example_mtv <= raw.example_mtv_hi
    assert raw.task_mtv_lo <= raw.task_mtv <= raw.task_mtv_hi
    unbootstrapped = next(r for r in stability_table(store, StabilityConfig(last=0.5, bootstrap=0)))
    assert unbootstrapped.example_mtv_lo is None


def test_aggregate_only_runs_get_task_level_rows(tmp_path):
    from ckptlens.store import aggregates_table

    store = Store(tmp_path)
    acc = {0: 0.25, 1000: 0.40, 8000: 0.50, 9000: 0.55, 10000: 0.52}
    for step, value in acc.items():
        rows = [{"run": "p", "checkpoint": f"step{step}", "step": step, "task": "piqa", "metric": "acc",
                 "filter": None, "value": value},
                {"run": "p", "checkpoint": f"step{step}", "step": step, "task": "piqa", "metric": "acc_norm",
                 "value": 0.9}]
        store.write_aggregates("p", f"step{step}", aggregates_table(rows))
    (row,) = stability_table(store, StabilityConfig(last=0.2))
    assert (row.run, row.task, row.category, row.method, row.n_checkpoints) == ("p", "piqa", "commonsense", "raw", 3)
    assert row.task_mtv == pytest.approx((0.05 + 0.03) / 2)
    assert row.mean_score == pytest.approx((0.50 + 0.55 + 0.52) / 3)
    assert row.example_mtv is None and row.instability_score is None and row.chance == 0.5
    assert row.to_dict()["example_mtv"] is None
    (norm,) = stability_table(store, StabilityConfig(last=0.2, metric="acc_norm"))
    assert norm.task_mtv == 0.0


def test_summary_by_category(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2,), bootstrap=0))
    by_category = summarise(rows, by=("run", "category", "method", "window"))
    raw = next(s for s in by_category if s["method"] == "raw")
    assert raw["category"] == "knowledge" and raw["n_tasks"] == 1


def test_perplexity_records_are_losses_not_scores(store):
    from ckptlens.analysis.curves import loss_curves

    for step in STEPS:
        rows = [{"run": "base", "checkpoint": f"step{step}", "step": step, "task": "valid", "kind": "perplexity",
                 "example_id": "doc", "nll": 1000.0 / step, "n_tokens": 100, "n_bytes": 400}]
        store.write_unit("base", f"step{step}", "valid", records_table(rows))
    assert "valid" not in {r.task for r in stability_table(store, StabilityConfig(last=0.5, bootstrap=0))}
    steps, bits, what = loss_curves(store)["base"]
    assert what == "bits per byte" and list(steps) == STEPS
    assert bits[0] == pytest.approx(100 / 400 / np.log(2))


def test_summary_means_cover_the_same_tasks_for_every_method(store):
    rows = stability_table(store, StabilityConfig(last=0.5, windows=(2,), bootstrap=0))
    extra = [r for r in rows if r.task == "facts" and r.method == "raw"]
    lacking = [StabilityRow(**{**r.to_dict(), "task": "gen"}) for r in extra]  # a task with raw rows only
    summary = summarise(rows + lacking)
    assert {s["n_tasks"] for s in summary} == {1}  # "gen" lacks the ensembles: left out everywhere


def test_aggregate_near_chance_says_why_and_uses_the_recorded_example_count(tmp_path):
    """A task-level import near chance is flagged with the numbers in ``note``; an ``n_samples`` row (lm-eval's
    ``n-samples``) sets the example count, else the benchmark's known size does."""
    from ckptlens.store import aggregates_table

    store = Store(tmp_path)
    for step in (8000, 9000, 10000):
        rows = [{"run": "p", "checkpoint": f"step{step}", "step": step, "task": task, "metric": "acc", "value": 0.33}
                for task in ("arc_easy", "arc_challenge")]
        rows.append({"run": "p", "checkpoint": f"step{step}", "step": step, "task": "arc_challenge",
                     "metric": "n_samples", "value": 30.0})
        store.write_aggregates("p", f"step{step}", aggregates_table(rows))
    rows = {r.task: r for r in stability_table(store, StabilityConfig(last=0.2))}
    assert not rows["arc_easy"].near_chance and rows["arc_easy"].note is None  # 8 points above, 2376 examples
    assert rows["arc_challenge"].near_chance  # 30 examples: 3 standard errors are 0.237, capped at 10 points
    assert rows["arc_challenge"].note == (
        "near chance: score 0.330 is not above chance 0.250 by more than 0.100 (30 examples, n-samples)")


def test_chance_of_options_varying_per_example_is_one_number_for_stability_and_select(tmp_path):
    """Half the examples have 2 options, half 4: chance is the mean of 1/options, 0.375, for every consumer
    (select used 1 / the largest count, 0.25, and kept this task while stability left it out)."""
    from ckptlens.analysis.matrix import store_matrix
    from ckptlens.analysis.selection import SelectConfig, select_checkpoints

    store = Store(tmp_path)
    golds = [0] * 400
    rng = np.random.default_rng(0)
    for step in range(10, 110, 10):
        preds = [0 if rng.random() < 0.40 else 1 for _ in golds]
        lls = [[-1.0 if c == p else -2.0 for c in range(2 if i % 2 else 4)] for i, p in enumerate(preds)]
        write(store, "r", "mixed", step, mc_rows("r", "mixed", step, preds, golds, logliks=lls))
    store.write_run_info("r", {"series": "/r"})
    assert store_matrix(store, "r", "mixed").chance == pytest.approx(0.375)
    (raw,) = [r for r in stability_table(store, StabilityConfig(windows=(2,))) if r.method == "raw"]
    assert raw.chance == pytest.approx(0.375) and raw.near_chance
    assert select_checkpoints(store, SelectConfig(window=2, splits=10)) == []  # left out there too
