"""Margins, gold probabilities and flip rates by margin, checked against the exported records."""

import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from ckptlens.analysis.matrix import store_matrix
from ckptlens.analysis.probability_dynamics import (
    DynamicsConfig,
    example_rows,
    gold_probability,
    margin_dynamics,
    margins,
    wilson,
    with_logliks,
)
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, records_table
from tests.analysis.test_stability_phases import exported

STEPS = list(range(10, 130, 10))


@pytest.fixture
def store(tmp_path):
    """Examples near the decision boundary flip often; far ones rarely."""
    store = Store(tmp_path / "store")
    rng = np.random.default_rng(5)
    n = 150
    golds = rng.integers(0, 4, n)
    base = rng.normal(0, 1.5, n)  # each example's typical margin
    for step in STEPS:
        logliks = rng.normal(-3, 0.3, (n, 4))
        logliks[np.arange(n), golds] = logliks.max(axis=1) + base + rng.normal(0, 0.6, n)
        preds = logliks.argmax(axis=1)
        rows = [dict(run="base", checkpoint=f"step{step}", step=step, task="facts", category="k",
                     kind="multiple_choice", example_id=f"e{i:03d}", logliks=logliks[i].tolist(), pred=int(preds[i]),
                     gold=int(golds[i]), output=str(preds[i]), target=str(golds[i]), correct=bool(preds[i] == golds[i]),
                     score=float(preds[i] == golds[i])) for i in range(n)]
        store.write_unit("base", f"step{step}", "facts", records_table(rows))
    store.write_run_info("base", {"series": "/runs/base"})
    return store


def test_flip_rate_by_margin_decile_equals_a_direct_computation_from_exported_records(store):
    bins, summary = margin_dynamics(store_matrix(store, "base", "facts"), DynamicsConfig(last=1.0, bootstrap=0))
    records = exported(store)
    by_example: dict[str, list] = {}
    for r in sorted(records, key=lambda r: r["step"]):
        by_example.setdefault(r["example_id"], []).append(r)
    pairs = []  # (|margin at t|, flips to t+1) from the records alone
    for rows in by_example.values():
        for a, b in zip(rows[:-1], rows[1:]):
            ll = a["logliks"]
            margin = ll[a["gold"]] - max(v for c, v in enumerate(ll) if c != a["gold"])
            pairs.append((abs(margin), int(a["correct"] != b["correct"])))
    margin, flipped = np.array(pairs).T
    edges = np.quantile(margin, np.linspace(0, 1, 11))
    assert len(bins) == 10 and summary.n_pairs == len(pairs)
    for b in bins:
        upper = margin <= edges[b.bin] if b.bin == 10 else margin < edges[b.bin]
        inside = (margin >= edges[b.bin - 1]) & upper
        assert b.n_pairs == inside.sum()
        assert abs(b.flip_rate - flipped[inside].mean()) < 1e-9
        assert abs(b.margin_lo - edges[b.bin - 1]) < 1e-9 and abs(b.margin_hi - edges[b.bin]) < 1e-9
    assert abs(summary.spearman - spearmanr(margin, flipped).statistic) < 1e-9
    assert summary.spearman < 0  # small margins flip: the fixture is built that way
    assert bins[0].flip_rate > bins[-1].flip_rate


def test_intervals_and_ensemble_columns(store):
    bins, summary = margin_dynamics(store_matrix(store, "base", "facts"), DynamicsConfig(last=1.0, bootstrap=200))
    assert summary.spearman_lo <= summary.spearman <= summary.spearman_hi
    for b in bins:
        assert b.flip_rate_lo <= b.flip_rate <= b.flip_rate_hi
        assert b.ensemble_pairs < b.n_pairs or b.ensemble_pairs == 0  # the first n - 1 pairs have no full window
    assert summary.removed_low is not None and 0 <= summary.removed_low <= 1
    lo, hi = wilson(5, 20)
    assert lo == pytest.approx(0.1119, abs=1e-4) and hi == pytest.approx(0.4687, abs=1e-4)  # textbook values


def test_margin_and_gold_probability_per_example_and_checkpoint(store):
    matrix = store_matrix(store, "base", "facts")
    rows = example_rows(matrix)
    assert len(rows) == matrix.n_examples * len(matrix.steps)
    record = next(r for r in exported(store) if r["example_id"] == "e007" and r["step"] == 30)
    row = next(r for r in rows if r["example_id"] == "e007" and r["step"] == 30)
    ll = np.array(record["logliks"])
    p = np.exp(ll - ll.max()) / np.exp(ll - ll.max()).sum()
    assert abs(row["gold_probability"] - p[record["gold"]]) < 1e-9
    assert (row["margin"] > 0) == record["correct"]
    assert margins(matrix.logliks, matrix.gold).shape == gold_probability(matrix.logliks, matrix.gold).shape


def test_runs_without_log_likelihoods_get_a_clean_error(tmp_path, cli):
    store = Store(tmp_path / "agg")
    rows = [dict(run="pythia", checkpoint="step1000", step=1000, task="lambada", category="k", kind="multiple_choice",
                 example_id="0", pred=0, gold=0, output="0", target="0", correct=True, score=1.0)]
    store.write_unit("pythia", "step1000", "lambada", records_table(rows))
    store.write_run_info("pythia", {"series": "/runs/pythia"})
    with pytest.raises(CkptlensError, match="pythia"):
        with_logliks([store_matrix(store, "pythia", "lambada")], ["pythia"])
    code, _, err = cli("dynamics", "--store", store.root)
    assert code == 2 and "run(s) pythia hold" in err and "Traceback" not in err


def test_command_outputs(store, cli):
    code, out, err = cli("dynamics", "--store", store.root, "--last", "1", "--bootstrap", "50", "--format", "json")
    assert code == 0, err
    data = json.loads(out)
    assert len(data["bins"]) == 10 and data["summary"][0]["task"] == "facts"
    code, out, err = cli("dynamics", "--store", store.root, "--bootstrap", "0", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("run,task,bin")


def test_unknown_runs_and_tasks_are_named_not_said_to_lack_log_likelihoods(store, cli):
    code, _, err = cli("dynamics", "--store", store.root, "--run", "nosuch")
    assert code == 2 and "--run nosuch: not in the store; it has base" in err and "hold none" not in err
    code, _, err = cli("dynamics", "--store", store.root, "--task", "nosuch")
    assert code == 2 and "--task nosuch: no per-example records of it in run(s) base; they hold facts" in err
