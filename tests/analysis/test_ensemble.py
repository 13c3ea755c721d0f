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
