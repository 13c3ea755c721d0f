"""Failure flags: integration lagging a rising curve, and an ensemble scoring below every one of its members."""

import numpy as np
import pytest

from ckptlens.analysis.failures import ensemble_flags, lag_flags
from ckptlens.analysis.integration import MethodMatrix
from ckptlens.analysis.stability import StabilityConfig, stability_sweep
from ckptlens.store import Store
from tests.analysis.test_stability import mc_rows, write

STEPS = np.arange(10, 110, 10)


def trailing_mean_matrix(curve: np.ndarray, n: int, method: str = "average") -> MethodMatrix:
    """A one-example 'matrix' whose curve is the trailing mean of ``curve`` over n checkpoints."""
    ends = np.arange(n - 1, len(curve))
    means = np.array([curve[t - n + 1 : t + 1].mean() for t in ends])
    return MethodMatrix(method, n, STEPS[ends], means[None, :], np.zeros((1, len(ends)), dtype=int))


def test_a_jump_is_flagged_where_the_average_trails_it():
    curve = np.array([0.3] * 5 + [0.9] * 5)  # jumps at step 60
    # trailing mean of 4: 0.45 at step 60, 0.6 at 70, 0.75 at 80; with noise 0.2 the first two trail by more
    flags = lag_flags("r", "t", STEPS, curve, trailing_mean_matrix(curve, 4), noise=0.2)
    assert [(f.step, f.raw_score, f.shortfall, f.rise) for f in flags] == [
        (60, 0.9, pytest.approx(0.45), pytest.approx(0.6)), (70, 0.9, pytest.approx(0.3), pytest.approx(0.6))]
    assert {(f.method, f.window, f.noise) for f in flags} == {("average", 4, 0.2)}


def test_a_flat_curve_is_not_flagged():
    flat = np.full(10, 0.5)
    for n in (2, 4, 8):
        assert lag_flags("r", "t", STEPS, flat, trailing_mean_matrix(flat, n), noise=0.0) == []
    noisy = 0.5 + np.array([0, 0.02, -0.01, 0.01, 0, -0.02, 0.01, 0, 0.02, -0.01])
    average = trailing_mean_matrix(noisy, 8)
    noise = float(noisy.std())
    # at step 90 the newest checkpoint sits 0.016 above the average of 8 (noise 0.012), but the score did not rise
    # across the window (0.52 at both ends): a spike, not lag
    assert noisy[8] - average.curve[1] > noise and noisy[8] - noisy[1] <= noise
    assert lag_flags("r", "t", STEPS, noisy, average, noise) == []


def three_way_store(tmp_path) -> Store:
    """Members A, B, C (then A again) each wrong on 2 of every 6 examples, the wrong ones all choosing option 1.

    Examples 0-2 of each block: two members wrong together (A+B, B+C, A+C), so the majority picks option 1;
    examples 3-5: all right. Every member scores 4/6, every ensemble of three 3/6.
    """
    store = Store(tmp_path / "store")
    wrong = {"A": {0, 2}, "B": {0, 1}, "C": {1, 2}}
    golds = [0] * 60
    for step, member in zip((10, 20, 30, 40), "ABCA"):
        preds = [1 if i % 6 in wrong[member] else 0 for i in range(60)]
        write(store, "base", "facts", step, mc_rows("base", "facts", step, preds, golds, n_choices=3))
    store.write_run_info("base", {"series": "/runs/base"})
    return store


def test_an_ensemble_worse_than_every_member_is_flagged(tmp_path):
    config = StabilityConfig(last=1.0, windows=(3,), rules=("vote", "mean-logprob", "confidence"), bootstrap=0)
    sweep = stability_sweep(three_way_store(tmp_path), config)
    raw = next(r for r in sweep.rows if r.method == "raw")
    assert raw.mean_score == pytest.approx(4 / 6) and raw.std == pytest.approx(0.0)
    for rule in ("vote", "mean-logprob", "confidence"):
        row = next(r for r in sweep.rows if r.method == f"ensemble-{rule}")
        assert row.mean_score == pytest.approx(3 / 6)
        flags = [f for f in sweep.ensemble_flags if f.method == f"ensemble-{rule}"]
        assert [(f.window, f.step) for f in flags] == [(3, 30), (3, 40)]
        assert all(f.ensemble_score == 0.5 and f.worst_member_score == f.best_member_score == pytest.approx(4 / 6)
                   for f in flags)
    assert sweep.lag_flags == []  # the members' score never rises


def test_ensemble_flag_needs_every_member_above_it():
    ensemble = MethodMatrix("ensemble-vote", 3, np.array([30, 40]), np.array([[0.6, 0.6]]), np.zeros((1, 2)))
    curve = np.array([0.59, 0.7, 0.8, 0.9])  # the window ending at 30 holds a member at 0.59; the one at 40 does not
    assert [f.step for f in ensemble_flags("r", "t", STEPS[:4], curve, ensemble)] == [40]


def test_averaged_run_lagging_a_jump_is_flagged_with_the_raw_noise(tmp_path):
    store = Store(tmp_path / "store")
    golds = [0] * 20
    base_correct = [6] * 5 + [18] * 5  # 0.3 then 0.9 from step 60
    avg_correct = [6] * 5 + [9, 12, 15, 18, 18]  # the window-4 average catches up over four checkpoints
    for step, base, avg in zip(STEPS.tolist(), base_correct, avg_correct):
        write(store, "base", "facts", step, mc_rows("base", "facts", step, [0] * base + [1] * (20 - base), golds))
        write(store, "avg4", "facts", step, mc_rows("avg4", "facts", step, [0] * avg + [1] * (20 - avg), golds))
    store.write_run_info("base", {"series": "/runs/base"})
    store.write_run_info("avg4", {"series": "/runs/avg4", "averaged_from": "/runs/base", "window": 4})
    # no ensembles: an ensemble of 4 starts at step 40, and every row would be compared from there
    sweep = stability_sweep(store, StabilityConfig(last=1.0, windows=(4,), rules=(), bootstrap=0))
    raw = next(r for r in sweep.rows if r.method == "raw")
    flags = [f for f in sweep.lag_flags if f.method == "average"]
    # noise = std of the raw score over the window = 0.3: only step 60 trails by more (0.45); at 70 by exactly 0.3
    assert raw.std == pytest.approx(0.3)
    assert [(f.step, f.shortfall, f.noise) for f in flags] == [(60, pytest.approx(0.45), raw.std)]
