"""lm-eval's aggregations over stored per-document values equal lm-eval's over its own items."""

import math

import pytest

from ckptlens.tasks.aggregation import aggregate

pytest.importorskip("lm_eval", reason="lm-eval is the optional extra ckptlens[lm-eval] (in the test extra)")


def test_stored_values_aggregate_as_lm_evals_items():
    from lm_eval.api.metrics import bits_per_byte, f1_score, perplexity, weighted_perplexity

    from ckptlens.evaluation.lm_eval_requests import _stored

    pairs, golds = [(-12.5, 7), (-3.25, 2), (-40.0, 19)], [(1, 0), (1, 1), (0, 0), (0, 1), (1, 1)]
    for name, function, items in (("weighted_perplexity", weighted_perplexity, pairs),
                                  ("bits_per_byte", bits_per_byte, pairs), ("f1", f1_score, golds),
                                  ("perplexity", perplexity, [-1.5, -0.25, -3.0])):
        stored = [_stored(item, function, name) for item in items]
        values, weights, jsons = zip(*stored, strict=True)
        assert math.isclose(aggregate(name, list(values), list(weights), list(jsons)), function(items), rel_tol=1e-12)
    assert _stored((1, 0), f1_score, "f1")[1] is None  # (gold, pred) is an item, not a (loglik, weight) pair
