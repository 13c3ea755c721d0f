"""Checkpoint ensembles from stored per-example outputs: no forward pass.

A trailing window of n checkpoints ending at t combines their predictions for
each example. Multiple choice takes per-choice log-likelihoods shaped
(n, examples, choices), -inf where an example has fewer choices.

>>> import numpy as np
>>> ll = np.log(np.array([[[0.6, 0.4]], [[0.3, 0.7]]]))  # 2 checkpoints, 1 example, 2 choices
>>> vote(ll), mean_logprob(ll), mean_prob(ll), confidence(ll)
(array([1]), array([1]), array([1]), array([1]))
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import numpy as np

from ckptlens.errors import CkptlensError
from ckptlens.tasks.choice import predicted_option
from ckptlens.tasks.metrics import MODEL_METRICS, metric, normalise_text

TIE_TOLERANCE = 1e-9  # confidence totals this close (relative) are a tie: summation order must not pick a winner


def vote(logliks: np.ndarray) -> np.ndarray:
    """Majority vote over the checkpoints' chosen options; ties go to the higher mean log-likelihood."""
    n_choices = logliks.shape[2]
    choices = predicted_option(logliks)  # (n, E)
    counts = np.stack([(choices == c).sum(axis=0) for c in range(n_choices)], axis=1)  # (E, C)
    tied = counts == counts.max(axis=1, keepdims=True)
    return predicted_option(np.where(tied, _mean_finite(logliks), -np.inf))


def mean_logprob(logliks: np.ndarray) -> np.ndarray:
    """Argmax of the mean per-choice log-likelihood over the checkpoints."""
    return predicted_option(_mean_finite(logliks))


def mean_prob(logliks: np.ndarray) -> np.ndarray:
    """Argmax of the mean over checkpoints of the softmax over each example's choices."""
    shifted = logliks - logliks.max(axis=2, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=2, keepdims=True)
    return predicted_option(probs.mean(axis=0))


def confidence(logliks: np.ndarray) -> np.ndarray:
    """Confidence-weighted vote: each checkpoint votes for its best option with weight = its margin.

    The margin is the checkpoint's best minus its second-best log-likelihood for the example, so a checkpoint
    torn between two options hardly counts and a sure one counts a lot. Options whose weighted totals are
    within ``TIE_TOLERANCE`` (relative) of the largest are tied, and ties go to the higher mean
    log-likelihood, as in ``vote``. An example with a single real option gives margin 0 (no second option to beat).
    """
    n_choices = logliks.shape[2]
    choices = predicted_option(logliks)  # (n, E)
    weights = _margins(logliks)  # (n, E)
    totals = np.stack([np.where(choices == c, weights, 0.0).sum(axis=0) for c in range(n_choices)], axis=1)
    best = totals.max(axis=1, keepdims=True)
    tied = totals >= best - TIE_TOLERANCE * np.maximum(np.abs(best), 1.0)
    return predicted_option(np.where(tied, _mean_finite(logliks), -np.inf))


def vote_text(outputs: np.ndarray) -> np.ndarray:
    """Majority vote over normalised generated texts, (examples, n) oldest first; ties to the newest."""
    return np.array([_vote_row(row) for row in outputs], dtype=object)


MULTIPLE_CHOICE_RULES: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "vote": vote,
    "mean-logprob": mean_logprob,
    "mean-prob": mean_prob,
    "confidence": confidence,
}


def trailing_windows(n_checkpoints: int, window: int) -> list[range]:
    """Index ranges of the trailing windows ending at each checkpoint that has n-1 predecessors."""
    if window < 1:
        raise CkptlensError(f"window must be at least 1, got {window}")
    return [range(t - window + 1, t + 1) for t in range(window - 1, n_checkpoints)]


def ensemble_choices(logliks: np.ndarray, window: int, rule: str, ends: list[int] | None = None) -> np.ndarray:
    """Ensembled choice per (example, window end): shape (E, len(ends)).

    ``ends`` are checkpoint indices ending a full window (default: all, m - window + 1 of them).
    """
    combine = _rule(rule)
    columns = [combine(logliks[list(w)]) for w in _windows(len(logliks), window, ends)]
    return np.stack(columns, axis=1) if columns else np.zeros((logliks.shape[1], 0), dtype=int)


def text_scores(texts: np.ndarray, targets: np.ndarray, metric_name: str = "exact_match",
                scored: list[dict[str, float]] | None = None) -> np.ndarray:
    """(E, T) score of each (voted) text against its example's target by the task's metric.

    A metric scored by a model (COMET) is not run again: a voted text is one of its window's outputs, so its
    score is the one stored with that output (``scored``: per example, {normalised output: score}).

    >>> text_scores(np.array([["東京", "大阪"]], dtype=object), np.array(["東京都"], dtype=object), "char_f1")
    array([[0.8, 0. ]])
    >>> text_scores(np.array([["a b"]], dtype=object), np.array(["a"], dtype=object), "comet_wmt22", [{"a b": 0.7}])
    array([[0.7]])
    """
    if metric_name in MODEL_METRICS:
        if scored is None:
            raise CkptlensError(f"{metric_name}: voted texts take the scores stored with them; pass scored")
        rows = [[known[str(t)] for t in row] for row, known in zip(texts, scored)]
    else:
        score = metric(metric_name)
        rows = [[score(str(t), str(g)) for t in row] for row, g in zip(texts, targets)]
    return np.array(rows, dtype=float).reshape(texts.shape)


def ensemble_texts(outputs: np.ndarray, window: int, ends: list[int] | None = None) -> np.ndarray:
    """Voted text per (example, window end) from (E, m) generated outputs."""
    columns = [vote_text(outputs[:, list(w)]) for w in _windows(outputs.shape[1], window, ends)]
    return np.stack(columns, axis=1) if columns else np.zeros((outputs.shape[0], 0), dtype=object)


def _windows(n_checkpoints: int, window: int, ends: list[int] | None) -> list[range]:
    windows = trailing_windows(n_checkpoints, window)
    return windows if ends is None else [windows[t - window + 1] for t in ends]


def _rule(name: str) -> Callable[[np.ndarray], np.ndarray]:
    try:
        return MULTIPLE_CHOICE_RULES[name]
    except KeyError:
        raise CkptlensError(f"unknown ensemble rule {name!r}; choose one of {sorted(MULTIPLE_CHOICE_RULES)}") from None


def _mean_finite(logliks: np.ndarray) -> np.ndarray:
    """Mean over checkpoints, keeping -inf for padded choices without warnings."""
    with np.errstate(invalid="ignore"):
        return np.mean(logliks, axis=0)


def _margins(logliks: np.ndarray) -> np.ndarray:
    """(n, E) best minus second-best log-likelihood per checkpoint and example; 0 without a second option."""
    if logliks.shape[2] < 2:
        return np.zeros(logliks.shape[:2])
    top = np.sort(logliks, axis=2)[:, :, -2:]
    with np.errstate(invalid="ignore"):
        margin = top[:, :, 1] - top[:, :, 0]
    return np.where(np.isfinite(margin), margin, 0.0)


def _vote_row(row: np.ndarray) -> str:
    texts = [normalise_text(t) for t in row]
    counts = Counter(texts)
    best = max(counts.values())
    return next(t for t in reversed(texts) if counts[t] == best)
