import numpy as np
import pytest

from ckptlens.analysis import ensemble
from ckptlens.errors import CkptlensError

NEG = -np.inf


def lp(*probs_per_checkpoint):
    """(n checkpoints, 1 example, C choices) log-likelihoods from probabilities."""
    return np.log(np.array([[p] for p in probs_per_checkpoint], dtype=float))


def test_vote_majority():
    ll = lp([0.6, 0.3, 0.1], [0.2, 0.7, 0.1], [0.5, 0.4, 0.1])
    assert ensemble.vote(ll).tolist() == [0]


def test_vote_tie_goes_to_higher_mean_loglik():
    # option 0 and option 1 each win one checkpoint; option 1's mean log-likelihood is higher
    ll = lp([0.50, 0.45, 0.05], [0.05, 0.90, 0.05])
    assert ensemble.vote(ll).tolist() == [1]
    # the same votes, but now option 0 has the higher mean log-likelihood
    ll = lp([0.90, 0.05, 0.05], [0.45, 0.50, 0.05])
    assert ensemble.vote(ll).tolist() == [0]


def test_mean_logprob_and_mean_prob_can_disagree():
    # mean log-prob punishes option 0's near-zero probability at one checkpoint; mean prob does not:
    # mean prob 0.6 vs 0.4, mean log-prob (2 ln 0.9 + ln 1e-6)/3 = -4.67 vs (2 ln 0.1 + 0)/3 = -1.54
    ll = lp([0.9, 0.1], [0.9, 0.1], [1e-6, 1 - 1e-6])
    assert ensemble.mean_logprob(ll).tolist() == [1]
    assert ensemble.mean_prob(ll).tolist() == [0]


def test_padded_choices_never_win():
    ll = np.array([[[-2.0, -1.0, NEG]], [[-2.0, -1.5, NEG]]])
    for rule in ensemble.MULTIPLE_CHOICE_RULES.values():
        assert rule(ll).tolist() == [1]


def test_trailing_windows_and_ensemble_choices():
    assert [list(w) for w in ensemble.trailing_windows(4, 2)] == [[0, 1], [1, 2], [2, 3]]
    ll = np.log(np.array([[[0.9, 0.1]], [[0.1, 0.9]], [[0.2, 0.8]], [[0.6, 0.4]]]))
    # windows of 2 end at checkpoints 1, 2, 3; mean log-prob of each pair
    assert ensemble.ensemble_choices(ll, 2, "mean-logprob").tolist() == [[0, 1, 1]]
    assert ensemble.ensemble_choices(ll, 1, "vote").tolist() == [[0, 1, 1, 0]]


def test_text_vote_ties_go_to_newest():
    outputs = np.array([["Paris", " Rome", "Oslo ", "Rome"], ["a", "b", "a", "b"]], dtype=object)
    assert ensemble.vote_text(outputs).tolist() == ["Rome", "b"]


def test_unknown_rule_names_the_choices():
    with pytest.raises(CkptlensError, match="mean-logprob"):
        ensemble.ensemble_choices(np.zeros((2, 1, 2)), 2, "median")


def test_confidence_weighs_each_vote_by_its_margin():
    # checkpoint 1 votes 0 with margin 0 - (-3) = 3; checkpoints 2 and 3 vote 1 with margin 1 each: 3 > 2
    ll = np.array([[[0.0, -3.0, -9.0]], [[-1.0, 0.0, -9.0]], [[-1.0, 0.0, -9.0]]])
    assert ensemble.confidence(ll).tolist() == [0]
    assert ensemble.vote(ll).tolist() == [1]  # two votes against one
    # now the two votes for 1 are surer (margins 0.6 + 0.6 = 1.2 > 1): confidence follows them, while the mean
    # log-likelihood prefers 0 (-0.4 against -5/3)
    ll = np.array([[[0.0, -5.0, -1.0]], [[-0.6, 0.0, -9.0]], [[-0.6, 0.0, -9.0]]])
    assert ensemble.confidence(ll).tolist() == [1]
    assert ensemble.mean_logprob(ll).tolist() == [0]


def test_confidence_ties_go_to_the_higher_mean_loglik():
    # each checkpoint votes with margin 1 for a different option: a tie, broken by the mean log-likelihood
    ll = np.array([[[0.0, -1.0, -5.0]], [[-3.0, 0.0, -1.0]]])  # means: -1.5, -0.5, -3
    assert ensemble.confidence(ll).tolist() == [1]
    ll = np.array([[[0.0, -3.0, -1.0]], [[-1.0, 0.0, -2.0]]])  # means: -0.5, -1.5, -1.5
    assert ensemble.confidence(ll).tolist() == [0]
    # margins 0.1 + 0.2 (for 0) against 0.3 (for 1) add up to 0.30000000000000004 > 0.3 in floating point; still a
    # tie, so the means decide: option 0 -50/3, option 1 -0.1
    ll = np.array([[[0.0, -0.1, -9.0]], [[0.0, -0.2, -9.0]], [[-50.0, 0.0, -0.3]]])
    assert 0.1 + 0.2 > 0.3 and ensemble.confidence(ll).tolist() == [1]


def test_confidence_ignores_checkpoints_torn_between_their_top_two():
    # checkpoint 1 is torn between 0 and 2 (margin 0): only checkpoint 2's vote counts
    ll = np.array([[[-1.0, -4.0, -1.0], [-2.0, -1.0, -3.0]], [[-2.0, -1.9, -3.0], [-2.0, -1.0, -3.0]]])
    assert ensemble.confidence(ll).tolist() == [1, 1]
    # a single real option has no margin; it still wins, as with every rule
    assert ensemble.confidence(np.array([[[-3.0, NEG]], [[-2.0, NEG]]])).tolist() == [0]
    assert ensemble.ensemble_choices(ll, 2, "confidence").tolist() == [[1], [1]]
