"""Instability per phase of training, checked against a direct computation from the exported records."""

import io
import json
import warnings

import numpy as np
import pytest

from ckptlens.analysis.spans import Span, parse_span, phase_spans, span_steps
from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.analysis.stability_phases import phase_sweep, reductions
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, export_records, records_table

STEPS = list(range(0, 101, 10))  # evenly spaced: phases end on checkpoints


def mc_rows(run, task, step, preds, golds, logliks):
    return [dict(run=run, checkpoint=f"step{step}", step=step, task=task, category="knowledge",
                 kind="multiple_choice", example_id=f"e{i}", logliks=ll, pred=p, gold=g, output=str(p),
                 target=str(g), correct=p == g, score=float(p == g))
            for i, (p, g, ll) in enumerate(zip(preds, golds, logliks))]


@pytest.fixture
def store(tmp_path):
    """Two tasks of 3 options whose accuracy rises from chance to 0.9 while answers flip at random."""
    store = Store(tmp_path / "store")
    rng = np.random.default_rng(3)
    for task, n in (("facts", 120), ("logic", 80)):
        golds = rng.integers(0, 3, n)
        for step in STEPS:
            p_right = 0.34 + 0.56 * step / 100
            logliks = rng.normal(0, 1, (n, 3))
            logliks[np.arange(n), golds] += np.where(rng.random(n) < p_right, 5.0, -5.0)
            preds = logliks.argmax(axis=1)
            rows = mc_rows("base", task, step, preds.tolist(), golds.tolist(), logliks.tolist())
            store.write_unit("base", f"step{step}", task, records_table(rows))
    store.write_run_info("base", {"series": "/runs/base"})
    return store


def exported(store):
    """The records as a user sees them: ``ckptlens records`` JSONL, parsed."""
    stream = io.StringIO()
    export_records(store, stream, "jsonl")
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def direct(records, task, lo, hi):
    """Mean score, task MTV, example MTV and IS over steps lo..hi, computed from exported records alone."""
    steps = sorted({r["step"] for r in records if r["task"] == task and lo <= r["step"] <= hi})
    ids = sorted({r["example_id"] for r in records if r["task"] == task})
    by = {(r["example_id"], r["step"]): r for r in records if r["task"] == task}
    score = np.array([[float(by[(i, s)]["score"]) for s in steps] for i in ids])
    pred = np.array([[by[(i, s)]["pred"] for s in steps] for i in ids])
    curve = score.mean(axis=0)
    return dict(mean_score=curve.mean(), task_mtv=np.abs(np.diff(curve)).mean(),
                example_mtv=np.abs(np.diff(score, axis=1)).mean(),
                instability_score=(pred[:, 1:] != pred[:, :-1]).mean(), first_step=steps[0], last_step=steps[-1])


def test_raw_rows_per_phase_equal_a_direct_computation_from_exported_records(store):
    rows = phase_sweep(store, StabilityConfig(windows=(1,), bootstrap=0, adaptive=None), phases=4).rows
    records = exported(store)
    assert sorted({r.phase for r in rows}) == [1, 2, 3, 4]
    for row in rows:
        lo, hi = (row.phase - 1) * 25, row.phase * 25
        want = direct(records, row.task, lo, hi)
        assert (row.first_step, row.last_step) == (want["first_step"], want["last_step"])
        for name in ("mean_score", "task_mtv", "example_mtv", "instability_score"):
            assert abs(getattr(row, name) - want[name]) < 1e-9, (row.phase, row.task, name)


def test_last_of_five_phases_equals_the_final_fifth(store):
    config = StabilityConfig(windows=(2, 3), bootstrap=200)
    phased = [r for r in phase_sweep(store, config, phases=5).rows if r.phase == 5]
    final = stability_table(store, config)
    assert len(phased) == len(final) > 2
    for a, b in zip(phased, final):
        assert {**a.to_dict(), "phase": None} == b.to_dict()


def test_each_phase_compares_methods_over_the_span_all_windows_cover(store):
    rows = phase_sweep(store, StabilityConfig(windows=(3,), bootstrap=0, adaptive=None), phases=5).rows
    first = [r for r in rows if r.phase == 1 and r.task == "facts"]
    # phase 1 is steps 0-20: an ensemble of 3 first ends at step 20, one checkpoint, so it is left out
    assert [r.method for r in first] == ["raw"] and (first[0].first_step, first[0].last_step) == (0, 20)
    second = [r for r in rows if r.phase == 2 and r.task == "facts"]
    assert len({(r.first_step, r.last_step) for r in second}) == 1 and len(second) == 3


def test_reductions_are_percent_of_raw_per_phase(store):
    rows = phase_sweep(store, StabilityConfig(windows=(2,), bootstrap=0, adaptive=None), phases=2).rows
    found = reductions(rows)
    for r in found:
        raw = [x for x in rows if x.phase == r.phase and x.method == "raw" and not x.near_chance]
        assert r.raw_example_mtv == pytest.approx(np.mean([x.example_mtv for x in raw]))
        assert r.example_mtv_reduction == pytest.approx(100 * (r.raw_example_mtv - r.example_mtv) / r.raw_example_mtv)
    assert any(r.method == "ensemble-vote" and r.example_mtv_reduction > 0 for r in found)


def test_an_explicit_span_in_steps_or_fractions(store):
    config = StabilityConfig(windows=(1,), bootstrap=0, adaptive=None)
    in_steps = phase_sweep(store, config, span=parse_span("30:60")).rows
    in_fractions = phase_sweep(store, config, span=parse_span("0.3:0.6")).rows
    assert [r.to_dict() for r in in_steps] == [r.to_dict() for r in in_fractions]
    assert (in_steps[0].first_step, in_steps[0].last_step, in_steps[0].phase) == (30, 60, None)


def test_spans_and_their_errors():
    assert span_steps([0, 5, 10], Span(0.5, 1.0)) == [5, 10]
    assert [s.phase for s in phase_spans(3)] == [1, 2, 3]
    for bad in ("0.5", "0.6:0.2", "a:b", "0.2:1.5"):
        with pytest.raises(CkptlensError, match="--span"):
            parse_span(bad)
    with pytest.raises(CkptlensError, match="--phases"):
        phase_spans(0)


def test_a_phase_with_one_checkpoint_is_left_out_with_a_warning(tmp_path, store):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rows = phase_sweep(store, StabilityConfig(windows=(1,), bootstrap=0, adaptive=None), phases=7).rows
    assert rows and any("phase" in str(w.message) for w in caught)
    with pytest.raises(CkptlensError, match="span"):
        phase_sweep(store, StabilityConfig(windows=(1,), bootstrap=0), span=Span(0.41, 0.49))
    with pytest.raises(CkptlensError, match="fewer phases"):
        phase_sweep(store, StabilityConfig(windows=(1,), bootstrap=0), phases=20)
