"""``stability --phases``, ``--span`` and ``--by kind`` from the command line."""

import json

import numpy as np
import pytest

from ckptlens.store import Store, records_table


def gen_rows(step, outputs, targets, f1):
    return [dict(run="base", checkpoint=f"step{step}", step=step, task="mt", category="MT", kind="generation",
                 example_id=f"e{i}", output=o, target=t, correct=o == t, score=f, pred=-1, gold=-1,
                 metrics=[("char_f1", f), ("exact_match", float(o == t))])
            for i, (o, t, f) in enumerate(zip(outputs, targets, f1))]


def mc_rows(step, preds, golds):
    return [dict(run="base", checkpoint=f"step{step}", step=step, task="facts", category="knowledge",
                 kind="multiple_choice", example_id=f"e{i}", logliks=[-1.0 if c == p else -2.0 for c in range(2)],
                 pred=p, gold=g, output=str(p), target=str(g), correct=p == g, score=float(p == g))
            for i, (p, g) in enumerate(zip(preds, golds))]


@pytest.fixture
def store(tmp_path):
    from ckptlens.tasks.metrics import char_f1

    store = Store(tmp_path / "store")
    rng = np.random.default_rng(0)
    targets = [f"word{i} and more" for i in range(30)]
    golds = [i % 2 for i in range(40)]
    for step in range(10, 110, 10):
        outputs = [t if rng.random() < 0.6 else t[: rng.integers(3, len(t))] for t in targets]
        f1 = [char_f1(o, t) for o, t in zip(outputs, targets)]
        store.write_unit("base", f"step{step}", "mt", records_table(gen_rows(step, outputs, targets, f1)))
        preds = [g if rng.random() < 0.85 else 1 - g for g in golds]
        store.write_unit("base", f"step{step}", "facts", records_table(mc_rows(step, preds, golds)))
    store.write_run_info("base", {"series": "/runs/base"})
    return store


def test_phases_rows_carry_phase_and_steps(cli, store):
    code, out, err = cli("stability", "--store", store.root, "--phases", "2", "--windows", "2", "--bootstrap", "0",
                         "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {r["phase"] for r in rows} == {1, 2}
    assert all({"first_step", "last_step"} <= set(r) for r in rows)
    second = {(r["first_step"], r["last_step"]) for r in rows if r["phase"] == 2 and r["method"] == "raw"}
    assert second == {(50, 100)}  # the checkpoint on the boundary belongs to both phases


def test_span_table_and_clean_errors(cli, store):
    code, out, err = cli("stability", "--store", store.root, "--span", "0.5:1", "--windows", "2", "--bootstrap", "0")
    assert code == 0, err
    assert "Instability over span 0.5:1" in out
    code, _, err = cli("stability", "--store", store.root, "--span", "0.5", "--bootstrap", "0")
    assert code == 2 and "--span" in err and "Traceback" not in err
    code, _, err = cli("stability", "--store", store.root, "--phases", "2", "--span", "0:0.5")
    assert code == 2 and "not both" in err


def test_by_kind_sets_the_continuous_metric_beside_its_exact_match_view(cli, store):
    code, out, err = cli("stability", "--store", store.root, "--by", "kind", "--windows", "2", "--bootstrap", "0",
                         "--format", "json")
    assert code == 0, err
    rows = {(r["score_kind"], r["method"]): r for r in json.loads(out)}
    assert {k for k, _ in rows} == {"0/1", "continuous", "0/1 view of continuous"}
    continuous, view = rows[("continuous", "raw")], rows[("0/1 view of continuous", "raw")]
    assert continuous["n_tasks"] == view["n_tasks"] == 1
    assert continuous["instability_score"] == pytest.approx(view["instability_score"])  # same outputs
    assert view["example_mtv"] > continuous["example_mtv"]  # partial credit moves less than right/wrong


def test_by_kind_names_a_0_1_generation_task_left_out_of_the_means(cli, tmp_path):
    # the demo's shape: an exact-match generation task is 0/1-scored but has no mean-logprob ensemble, so the 0/1
    # means are over the multiple-choice tasks only; the table says so, and that no continuous task is there
    store = Store(tmp_path / "store")
    rng = np.random.default_rng(1)
    targets = [f"w{i}" for i in range(30)]
    golds = [i % 2 for i in range(40)]
    for step in range(10, 110, 10):
        outputs = [t if rng.random() < 0.6 else "x" for t in targets]
        rows = [{**r, "task": "recall", "metrics": [("exact_match", r["score"])]}
                for r in gen_rows(step, outputs, targets, [float(o == t) for o, t in zip(outputs, targets)])]
        store.write_unit("base", f"step{step}", "recall", records_table(rows))
        preds = [g if rng.random() < 0.85 else 1 - g for g in golds]
        store.write_unit("base", f"step{step}", "facts", records_table(mc_rows(step, preds, golds)))
    store.write_run_info("base", {"series": "/runs/base"})
    code, out, err = cli("stability", "--store", store.root, "--by", "kind", "--windows", "2", "--bootstrap", "0",
                         "--adaptive", "none")
    assert code == 0, err
    text = " ".join(out.split())
    assert "base, 0/1: recall left out of the means (lacks ensemble-mean-logprob (2), which other tasks have)" in text
    assert "No generative task with a continuous metric" in text
