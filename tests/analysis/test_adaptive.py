"""Adaptive windows on synthetic curves with a known answer, and the cross-fitting that keeps choice and score apart."""

import numpy as np
import pytest

from ckptlens.analysis import metrics
from ckptlens.analysis.adaptive import AdaptiveConfig, adaptive_matrix, curve_lag, example_folds
from ckptlens.analysis.integration import MethodMatrix
from ckptlens.analysis.stability import StabilityConfig, stability_sweep, summarise
from ckptlens.errors import CkptlensError
from tests.analysis.test_stability import store  # noqa: F401  (the hand-written store fixture)

STEPS = np.arange(10, 310, 10)  # 30 checkpoints
SCORED = np.arange(20, 30)  # the scored window: the last 10


def trailing_mean(values: np.ndarray, n: int, ends: np.ndarray) -> np.ndarray:
    return np.array([values[t - n + 1 : t + 1].mean() for t in ends])


@pytest.mark.parametrize("n", [2, 4, 8])
def test_a_trailing_mean_on_a_straight_rise_lags_half_its_span(n):
    raw = 0.1 + 0.02 * np.arange(30)
    lag = curve_lag(raw, trailing_mean(raw, n, SCORED), SCORED, n, noise=float(raw[SCORED].std()))
    assert lag == pytest.approx((n - 1) / 2)


def test_a_curve_that_does_not_rise_has_nothing_to_lag_behind():
    raw = 0.5 + 0.02 * np.tile([1, -1, 0], 10)  # flat with noise
    smoothed = np.full(len(SCORED), 0.4)  # far below, but the raw curve never rises
    assert curve_lag(raw, smoothed, SCORED, 8, noise=float(raw[SCORED].std())) == 0.0


def test_lag_looks_back_over_the_checkpoints_the_window_integrates():
    # the raw score jumps 0.3 -> 0.9 over checkpoints 16..20 and is flat in the scored window; a trailing mean of 8
    # catches up inside the window: it lags, although the scored window alone does not rise
    raw = np.concatenate([np.full(16, 0.3), np.linspace(0.42, 0.9, 5), np.full(9, 0.9)])
    noise = float(raw[SCORED].std())
    assert 1.0 <= curve_lag(raw, trailing_mean(raw, 8, SCORED), SCORED, 8, noise) <= 7
    assert curve_lag(raw, trailing_mean(raw, 2, SCORED), SCORED, 2, noise) <= 0.5


def flat_candidates(flips_per_window: dict[int, int], n_pairs: int = 20) -> list[MethodMatrix]:
    """Candidates whose task curve is exactly 0.5 and whose examples each flip ``flips`` times in 10 checkpoints."""
    found = []
    for n, flips in flips_per_window.items():
        row = np.array([(t * flips) // 9 % 2 for t in range(10)], dtype=float)  # exactly `flips` changes
        score = np.vstack([np.tile(row, (n_pairs, 1)), np.tile(1 - row, (n_pairs, 1))])
        found.append(MethodMatrix("raw" if n == 1 else "average", n, STEPS[SCORED], score, score.astype(int)))
    return found


def raw_base(candidates: list[MethodMatrix]) -> MethodMatrix:
    """The raw run at all 30 checkpoints: flat before the scored window, the raw candidate inside it."""
    raw = candidates[0]
    before = np.tile(raw.score[:, :1], (1, 20))
    score = np.hstack([before, raw.score])
    return MethodMatrix("raw", 1, STEPS, score, score.astype(int))


def test_flat_noisy_curve_gets_the_most_stable_window():
    candidates = flat_candidates({1: 9, 3: 5, 5: 2, 7: 1})
    matrix, criteria = adaptive_matrix("r", "t", raw_base(candidates), candidates)
    assert matrix.method == "adaptive-average" and matrix.window == 7
    on_all = [c for c in criteria if c.fold is None]
    assert [round(c.example_mtv * 9, 6) for c in on_all] == [9, 5, 2, 1]
    assert all(c.lag_checkpoints == 0 for c in on_all)  # the task curve never moves
    np.testing.assert_array_equal(matrix.score, candidates[-1].score)  # every fold chose 7 as well


def test_target_takes_the_smallest_window_reaching_it_else_the_most_stable():
    candidates = flat_candidates({1: 9, 3: 5, 5: 2, 7: 1})
    mtv = {c.window: metrics.example_mtv(c.score) for c in candidates}  # 1, 5/9, 2/9, 1/9
    for target, expected in [(0.6, 3), (0.3, 5), (1.0, 1), (0.05, 7)]:
        assert min([n for n in mtv if mtv[n] <= target] or [7]) == expected  # the rule, computed independently
        config = AdaptiveConfig(rule="target", mtv_target=target)
        assert adaptive_matrix("r", "t", raw_base(candidates), candidates, config)[0].window == expected


def rising_candidates(n_examples: int = 120) -> tuple[MethodMatrix, list[MethodMatrix]]:
    """Examples learn one by one (example i from checkpoint i / 4 on); window n answers like the run n // 2 earlier,
    so its curve is the raw curve shifted by n // 2 checkpoints, with the same single flip per example."""
    learn = np.arange(n_examples) // 4
    score = (np.arange(30)[None, :] >= learn[:, None]).astype(float)
    base = MethodMatrix("raw", 1, STEPS, score, score.astype(int))
    candidates = [MethodMatrix("raw", 1, STEPS[SCORED], score[:, SCORED], score[:, SCORED].astype(int))]
    for n in (2, 4, 8):
        shifted = score[:, SCORED - n // 2]
        candidates.append(MethodMatrix("ensemble-vote", n, STEPS[SCORED], shifted, shifted.astype(int)))
    return base, candidates


def test_fast_rising_curve_gets_the_raw_checkpoints_under_tradeoff():
    base, candidates = rising_candidates()
    matrix, criteria = adaptive_matrix("r", "t", base, candidates)
    on_all = {c.window: c for c in criteria if c.fold is None}
    assert {n: c.lag_checkpoints for n, c in on_all.items()} == pytest.approx({1: 0, 2: 1, 4: 2, 8: 4})
    assert {n: c.lag_steps for n, c in on_all.items()} == pytest.approx({1: 0, 2: 10, 4: 20, 8: 40})
    assert len({round(c.example_mtv, 9) for c in on_all.values()}) == 1  # as stable as each other: lag decides
    assert matrix.window == 1 and matrix.method == "adaptive-ensemble-vote"
    for c in on_all.values():
        assert c.objective == pytest.approx(c.example_mtv + 0.01 * c.lag_checkpoints)
    # with lag worth nothing, every window ties and the smallest wins
    assert adaptive_matrix("r", "t", base, candidates, AdaptiveConfig(lag_weight=0.0))[0].window == 1


def test_each_fold_is_scored_with_the_window_chosen_on_the_other_fold():
    # window 3 is perfectly stable on fold 0's examples and flips on fold 1's; raw is the opposite. Chosen on fold 1,
    # fold 0 gets raw (which flips there); chosen on fold 0, fold 1 gets window 3 (which flips there).
    fold = example_folds(40, 2, seed=0)
    steady, flipping = np.ones(10), np.tile([1.0, 0.0], 5)
    raw = np.where(fold[:, None] == 0, flipping, steady)
    smooth = np.where(fold[:, None] == 0, steady, flipping)
    candidates = [MethodMatrix("raw", 1, STEPS[SCORED], raw, raw.astype(int)),
                  MethodMatrix("average", 3, STEPS[SCORED], smooth, smooth.astype(int))]
    base = MethodMatrix("raw", 1, STEPS, np.hstack([np.ones((40, 20)), raw]), np.ones((40, 30), dtype=int))
    matrix, criteria = adaptive_matrix("r", "t", base, candidates)
    chosen = {c.fold: c.window for c in criteria if c.chosen}
    assert chosen[0] == 1 and chosen[1] == 3
    np.testing.assert_array_equal(matrix.score, flipping[None, :].repeat(40, axis=0))  # worse than either: honest
    assert metrics.example_mtv(matrix.score) == 1.0


def test_folds_split_the_examples_evenly_and_reproducibly():
    fold = example_folds(11, 3, seed=5)
    assert sorted(np.bincount(fold)) == [3, 4, 4]
    np.testing.assert_array_equal(fold, example_folds(11, 3, seed=5))
    base, candidates = rising_candidates(n_examples=1)
    assert adaptive_matrix("r", "t", base, candidates) is None  # fewer examples than folds: no adaptive row


def test_bad_settings_are_clear_errors():
    with pytest.raises(CkptlensError, match="tradeoff, target"):
        AdaptiveConfig(rule="fastest")
    with pytest.raises(CkptlensError, match="at least 2 folds"):
        AdaptiveConfig(folds=1)
    with pytest.raises(CkptlensError, match="negative"):
        AdaptiveConfig(lag_weight=-0.1)


def test_adaptive_rows_sit_next_to_the_fixed_windows(store):  # noqa: F811  (test_stability's hand-written store)
    sweep = stability_sweep(store, StabilityConfig(last=0.5, windows=(2,), bootstrap=0))
    rows = {(r.task, r.method): r for r in sweep.rows}
    adaptive = rows[("facts", "adaptive-average")]
    # averaged checkpoints never flip there while raw ones do: every fold and all examples choose window 2
    assert {c.window for c in sweep.choices if c.task == "facts" and c.method == "average" and c.chosen} == {2}
    fixed = rows[("facts", "average")]
    assert (adaptive.window, adaptive.example_mtv, adaptive.mean_score) == (2, fixed.example_mtv, fixed.mean_score)
    assert {m for t, m in rows if t == "facts" and m.startswith("adaptive-")} == {
        "adaptive-average", "adaptive-ensemble-vote", "adaptive-ensemble-mean-logprob"}
    (summary,) = [s for s in summarise(sweep.rows) if s["method"] == "adaptive-average"]
    assert summary["window"] is None and summary["n_tasks"] == 1  # windows differ per task: one mean over tasks
    bare = stability_sweep(store, StabilityConfig(last=0.5, windows=(2,), bootstrap=0, adaptive=None))
    assert not bare.choices and not any(r.method.startswith("adaptive-") for r in bare.rows)
