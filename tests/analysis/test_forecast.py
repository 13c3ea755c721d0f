"""Forecasts: a known law recovered, calibrated intervals, the ladder on a shared error shape, clean refusals,
and the health flags."""

import numpy as np
import pytest

from ckptlens.analysis.curves import Curve
from ckptlens.analysis.forecast import (
    ForecastConfig,
    TooFewCheckpoints,
    backtest,
    backtest_summary,
    forecast_curve,
)
from ckptlens.analysis.forecast_fit import fit_saturating
from ckptlens.analysis.health import binomial_flags, mcnemar_flags

STEPS = np.arange(1, 11) * 1000


def law(steps, asymptote=0.75, scale=0.35, exponent=0.6):
    return asymptote - scale * (np.asarray(steps, dtype=float) / 1000) ** -exponent


def curve(scores, steps=STEPS, run="r", n=2000, chance=0.25) -> Curve:
    return Curve(run, "task", "other", np.asarray(steps), np.full(len(steps), np.nan), np.asarray(scores, float),
                 chance=chance, n_examples=n)


def test_recovers_a_known_law():
    fit = fit_saturating(STEPS, law(STEPS), chance=0.25, noise_sd=0.005)
    assert fit.A == pytest.approx(0.75, abs=0.003) and fit.c == pytest.approx(0.6, rel=0.03)
    row = forecast_curve(curve(law(STEPS)), 50_000, [], {}, ForecastConfig())
    assert row["method"] == "within-run" and row["n_points"] == 10
    assert row["predicted"] == pytest.approx(float(law(50_000)), abs=0.002)
    assert row["lo"] < row["predicted"] < row["hi"]


def test_one_wild_checkpoint_does_not_bend_the_fit():
    scores = law(STEPS).copy()
    scores[6] -= 0.08  # a broken checkpoint
    row = forecast_curve(curve(scores), 50_000, [], {}, ForecastConfig())
    assert row["predicted"] == pytest.approx(float(law(50_000)), abs=0.01)


def test_intervals_cover_90_percent_of_new_measurements():
    """400 simulated runs with binomial noise: the 90% interval holds a fresh measurement at the target step."""
    rng = np.random.default_rng(1)
    n, at = 2000, 30_000
    covered = []
    for _ in range(400):
        row = forecast_curve(curve(rng.binomial(n, law(STEPS)) / n, n=n), at, [], {}, ForecastConfig())
        covered.append(row["lo"] <= rng.binomial(n, law(at)) / n <= row["hi"])
    assert 0.85 <= np.mean(covered) <= 0.95


def test_ladder_carries_the_siblings_shape():
    """Error rates with a shape shared across sizes and a size-dependent scale: the cut run's end is exact."""
    full = np.array([1000, 2000, 4000, 8000, 16000, 32000])
    shape = (full / 1000) ** -0.4
    sizes = {"a-100m": 1e8, "b-400m": 4e8, "c-1.6b": 1.6e9}
    errors = {"a-100m": 0.6, "b-400m": 0.45, "c-1.6b": 0.35}
    curves = [curve(1 - errors[r] * shape, steps=full, run=r, n=None) for r in sizes]
    target = curves[1]
    early = curve(target.scores[:4], steps=full[:4], run=target.run, n=None)
    row = forecast_curve(early, 32000, [curves[0], curves[2]], sizes, ForecastConfig())
    assert row["method"] == "ladder" and row["n_points"] == 2
    assert row["predicted"] == pytest.approx(target.scores[-1], abs=1e-9)
    rows = backtest(curves, sizes, 8000, ForecastConfig(), ["b-400m"])
    assert rows[0]["error"] == pytest.approx(0, abs=1e-9) and rows[0]["covered"]
    assert rows[0]["identified"]  # the siblings, observed up to the target step, measured the gain
    summary = backtest_summary(rows)
    assert summary["mae"] == pytest.approx(0, abs=1e-7) and summary["mae_last_value"] > 5


def test_too_few_checkpoints_is_a_clean_error():
    with pytest.raises(TooFewCheckpoints, match="3 checkpoint.* needs 4"):
        forecast_curve(curve(law(STEPS[:3]), steps=STEPS[:3]), 50_000, [], {}, ForecastConfig())


def test_near_chance_tasks_are_forecast_with_a_note():
    row = forecast_curve(curve(np.full(10, 0.26)), 50_000, [], {}, ForecastConfig())
    assert row["predicted"] == pytest.approx(0.26, abs=0.01) and "near chance" in row["note"]


def test_health_fires_on_a_drop_and_stays_quiet_on_noise():
    rng = np.random.default_rng(3)
    n, steps = 2000, np.arange(1, 21) * 500
    quiet = [binomial_flags(steps, rng.binomial(n, law(steps)) / n, n) for _ in range(20)]
    assert sum(map(len, quiet)) == 0
    dropped = rng.binomial(n, law(steps)) / n
    dropped[14] = rng.binomial(n, law(steps[14]) - 0.06) / n  # the model at one checkpoint is 6 points worse
    flags = binomial_flags(steps, dropped, n)
    assert [f["step"] for f in flags] == [7500] and flags[0]["drop"] > 0.03 and flags[0]["p_value"] < 1e-3


def test_mcnemar_health_on_examples():
    rng = np.random.default_rng(4)
    p = law(np.arange(1, 13) * 500)
    correct = rng.random((1500, 12)) < p  # independent noise around a rising trend
    assert mcnemar_flags(np.arange(12), correct) == []
    correct[:, 9] &= rng.random(1500) > 0.15  # 15% of the right answers lost at one checkpoint
    assert [f["step"] for f in mcnemar_flags(np.arange(12), correct)] == [9]


def write_emergent_run(store, run: str, steps, scale: float = 1.0) -> None:
    """A multiple-choice task whose gold loss falls smoothly while the accuracy rises late (an emergence)."""
    from ckptlens.store import records_table

    rng = np.random.default_rng(0)
    difficulty = rng.normal(0, 0.8, 600)
    distractors = np.log(0.25) - 0.2 + 0.4 * rng.normal(size=(600, 3))
    for step in steps:
        gold = -(0.9 + 3.0 * scale * (step / 1000) ** -0.7) + difficulty
        logliks = np.column_stack([gold, distractors])
        pred = logliks.argmax(axis=1)
        rows = [{"run": run, "checkpoint": f"step{step}", "step": int(step), "task": "emerge", "category": "other",
                 "kind": "multiple_choice", "example_id": str(i), "logliks": logliks[i].tolist(), "pred": int(pred[i]),
                 "gold": 0, "output": str(pred[i]), "target": "0", "correct": bool(pred[i] == 0),
                 "score": float(pred[i] == 0)} for i in range(600)]
        store.write_unit(run, f"step{step}", "emerge", records_table(rows))


def test_two_step_through_the_loss_where_it_beats_the_score_fit(tmp_path):
    from ckptlens.analysis.forecast import backtest_store, forecast_store
    from ckptlens.store import Store

    store = Store(tmp_path / "store")
    steps = [500, 1000, 1500, 2000, 3000, 4000, 5000, 6000, 8000, 10000, 12000, 16000]
    write_emergent_run(store, "emergent", steps)
    rows = backtest_store(store, 8000, ForecastConfig())
    assert len(rows) == 1 and rows[0]["method"] == "two-step" and "beat within-run" in rows[0]["note"]
    assert abs(rows[0]["error"]) < abs(rows[0]["within_run"] - rows[0]["truth"]) / 2 and rows[0]["covered"]
    ahead = forecast_store(store, "emergent", 32000, ForecastConfig())
    assert ahead[0]["method"] == "two-step" and ahead[0]["predicted"] > rows[0]["truth"]


SIGMOID_STEPS = np.arange(1, 49) * 10  # the full demo's checkpoints


def sigmoid_curve(middle: int, seed: int, n: int = 500) -> Curve:
    """A task that leaves chance (0.25) around step ``middle`` and levels off at 0.75: a logistic in log steps,
    measured on ``n`` examples."""
    p = 0.25 + 0.5 / (1 + np.exp(-(np.log(SIGMOID_STEPS) - np.log(middle)) / 0.25))
    return curve(np.random.default_rng(seed).binomial(n, p) / n, steps=SIGMOID_STEPS, n=n)


def test_a_curve_cut_before_its_bend_gets_an_interval_up_to_the_ceiling():
    """Cut at chance (step 140) or halfway up (step 200), the points cannot say where the curve levels off: every
    interval reaches 1, covers the final score, and says why."""
    rows = [row for seed in range(20) for cut in (0.3, 200)
            for row in backtest([sigmoid_curve(200, seed)], {}, cut, ForecastConfig())]
    assert len(rows) == 40 and all(r["hi"] == 1.0 and r["covered"] and not r["identified"] for r in rows)
    notes = [r["note"] for r in rows]
    assert all(note.startswith("asymptote not identified: ") for note in notes)
    assert any("has not bent by step 200" in note for note in notes)
    summary = backtest_summary(rows)
    assert summary["unidentified"] == 40 and summary["coverage"] == 1.0 and summary["coverage_identified"] is None


def test_a_curve_cut_after_its_bend_keeps_a_narrow_interval():
    """Levelled off by step 100 and cut at 240: the asymptote is identified and the interval stays a few points."""
    rows = [backtest([sigmoid_curve(30, seed)], {}, 0.5, ForecastConfig())[0] for seed in range(40)]
    assert all(r["identified"] and r["note"] is None and r["hi"] - r["lo"] < 0.1 for r in rows)
    assert np.mean([r["covered"] for r in rows]) >= 0.75  # 90% nominal; the law misfits the S's foot a little
    assert backtest_summary(rows)["unidentified"] == 0


def test_a_task_at_chance_is_vouched_for_only_by_a_larger_sibling():
    """At chance at the cut, the largest run may still emerge: smaller siblings that stayed at chance do not
    narrow its interval; a larger one observed up to the target step does."""
    flat = np.full(6, 0.25) + np.array([0.01, -0.01, 0.0, 0.01, 0.0, -0.01])
    full = np.array([1000, 2000, 4000, 8000, 16000, 32000])
    sizes = {"a-100m": 1e8, "b-400m": 4e8, "c-1.6b": 1.6e9}
    runs = {run: curve(flat, steps=full, run=run, n=1000) for run in sizes}
    for target, identified in (("c-1.6b", False), ("b-400m", True)):
        row = backtest(list(runs.values()), sizes, 8000, ForecastConfig(), [target])[0]
        assert row["method"] == "ladder" and row["identified"] is identified and row["covered"]
        assert (row["hi"] == 1.0) is not identified and ("emergence" in row["note"]) is not identified
