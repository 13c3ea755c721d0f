import numpy as np

from ckptlens.analysis import metrics
from ckptlens.analysis.bootstrap import bootstrap_cis, resample_weights


def test_intervals_contain_the_point_estimates_and_shrink_with_more_examples():
    rng = np.random.default_rng(0)
    small = (rng.random((40, 6)) < 0.6).astype(float)
    large = (rng.random((4000, 6)) < 0.6).astype(float)
    for score in (small, large):
        ci = bootstrap_cis(score, score, resample_weights(len(score), 500))
        assert ci["example_mtv"][0] <= metrics.example_mtv(score) <= ci["example_mtv"][1]
        assert ci["instability_score"][0] <= metrics.instability_score(score) <= ci["instability_score"][1]
        assert ci["mean_score"][0] <= score.mean() <= ci["mean_score"][1]
    width = lambda ci: ci["example_mtv"][1] - ci["example_mtv"][0]  # noqa: E731
    narrow = bootstrap_cis(large, large, resample_weights(4000))
    assert width(narrow) < width(bootstrap_cis(small, small, resample_weights(40))) / 5


def test_replicates_match_a_direct_resampling_loop():
    rng = np.random.default_rng(1)
    score = (rng.random((60, 5)) < 0.5).astype(float)
    ci = bootstrap_cis(score, score, resample_weights(60, 2000, seed=7))
    draws = np.random.default_rng(7).integers(0, 60, size=(2000, 60))
    direct = [metrics.task_mtv(score[rows].mean(axis=0)) for rows in draws]
    assert np.allclose(ci["task_mtv"], np.percentile(direct, [2.5, 97.5]))


def test_no_spread_without_variation():
    score = np.ones((30, 4))
    assert bootstrap_cis(score, score, resample_weights(30))["example_mtv"] == (0.0, 0.0)
