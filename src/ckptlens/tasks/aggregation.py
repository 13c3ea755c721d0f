"""lm-eval's task scores: its own aggregation functions over the per-document values stored in the records.

lm-eval scores a task by ``task.aggregation()[metric](items)`` over the
documents' ``process_results`` values. Most are numbers averaged by ``mean``;
some are not: the rolling perplexities are ``(loglik, weight)`` pairs
(``weighted_perplexity``, ``bits_per_byte``), lambada's ``perplexity`` is
``exp(-mean(loglik))``, ``f1``/``mcc``/``bleu`` take ``(gold, pred)`` tuples.
A record keeps each metric in that form (``MetricInfo``): the number, the
weight of a pair, or the item itself as JSON, and the aggregation's name in
lm-eval's registry, so a task's score at a checkpoint is lm-eval's number.

>>> aggregate("mean", [1.0, 0.0, 1.0, 1.0])
0.75
>>> round(aggregate("weighted_perplexity", [-10.0, -20.0], weights=[5.0, 10.0]), 6)  # exp(30 / 15)
7.389056
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass

from ckptlens.errors import CkptlensError

# The aggregations whose per-document value is a log-likelihood (a loss), not a score
LOGLIK_AGGREGATIONS = frozenset({"perplexity", "weighted_perplexity", "bits_per_byte"})


@dataclass(frozen=True)
class MetricInfo:
    """How one per-document metric of an lm-eval task is stored and aggregated (one ``metric_info`` entry)."""

    key: str  # the key of the records' ``metrics`` map: the bare metric for the first filter, else "metric,filter"
    metric: str
    filter: str
    aggregation: str | None  # the name in lm-eval's aggregation registry; None: a function the registry lacks
    higher_is_better: bool | None
    weight: float | None = None  # the pair's weight (words, bytes) when the value is (loglik, weight)
    item: str | None = None  # the item as JSON when it is neither a number nor a pair

    @property
    def lm_eval_key(self) -> str:
        """lm-eval's results key, ``metric,filter``."""
        return f"{self.metric},{self.filter}"

    def to_row(self) -> dict:
        return {"key": self.key, "metric": self.metric, "filter": self.filter, "aggregation": self.aggregation,
                "higher_is_better": self.higher_is_better, "weight": self.weight, "item": self.item}


def aggregation_name(function) -> str | None:
    """``function``'s name in lm-eval's aggregation registry (None for a task's own ``!function``)."""
    aggregation_registry = _registry()
    return next((name for name, fn in aggregation_registry.items() if fn is function), None)


def aggregate(name: str | None, values: Sequence[float], weights: Sequence[float | None] | None = None,
              items: Sequence[str | None] | None = None) -> float:
    """lm-eval's aggregation ``name`` over one checkpoint's documents (None, or ``mean``: the plain mean).

    ``values`` are the stored numbers; a document with a weight is the pair ``(value, weight)``, one with an
    item is that item (JSON), as ``process_results`` returned them.
    """
    if not len(values):
        return math.nan
    if name in (None, "mean"):
        return float(sum(values) / len(values))
    entries = [_item(v, None if weights is None else weights[i], None if items is None else items[i])
               for i, v in enumerate(values)]
    return float(_function(name)(entries))


def _item(value: float, weight: float | None, item: str | None):
    if item is not None:
        return _tuples(json.loads(item))
    return value if weight is None else (value, weight)


def _tuples(value):
    """JSON's lists back to the tuples lm-eval's aggregations unpack."""
    return tuple(_tuples(v) for v in value) if isinstance(value, list) else value


def _function(name: str):
    return _registry(name).get(name)


def _registry(name: str = "lm-eval"):
    """lm-eval's aggregation registry, filled (its metrics module registers them on import)."""
    try:
        import lm_eval.api.metrics  # noqa: F401
        from lm_eval.api.registry import aggregation_registry
    except ImportError:
        raise CkptlensError(f"the {name!r} aggregation is lm-eval's; install it with pip install "
                            "'ckptlens[lm-eval]'") from None
    return aggregation_registry


def per_document(value: float, weight: float | None) -> float:
    """A document's own value for example-level measures: the log-likelihood per weight for a pair.

    >>> per_document(-12.0, 4.0)
    -3.0
    """
    return value if weight is None or not weight else value / weight
