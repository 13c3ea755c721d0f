"""The predicted option of a multiple-choice example: the one definition every package uses.

The evaluation (native and lm-eval tasks), the importers and the analyses (``--metric acc_norm``,
the ensembles) all pick the option with the largest log-likelihood, ties to the lowest index as
lm-eval's ``np.argmax`` does. ``acc_norm`` picks by log-likelihood per character of the option.

>>> predicted_option([-2.0, -1.0, -1.0])
1
>>> predicted_option(length_normalised([-2.0, -3.0], [2, 10]))
1
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

LENGTH_NORMALISED = frozenset({"acc_norm"})  # metrics that pick the option by log-likelihood per character


def predicted_option(logliks: Sequence[float] | np.ndarray) -> int | np.ndarray:
    """Index of the largest log-likelihood along the last axis (the options), ties to the first.

    One example's list gives an ``int``; an array (..., options) gives an integer array of the leading
    shape. Missing options are ``-inf``, so padded arrays pick among the real ones.

    >>> predicted_option(np.array([[[-1.0, -1.0, -3.0]], [[-5.0, -2.0, -np.inf]]]))[:, 0].tolist()
    [0, 1]
    """
    values = np.asarray(logliks, dtype=float)
    picked = np.argmax(values, axis=-1)
    return int(picked) if values.ndim == 1 else picked


def length_normalised(logliks: Sequence[float] | np.ndarray, chars: Sequence[int] | np.ndarray) -> np.ndarray:
    """Log-likelihoods divided by their options' character lengths (lm-eval's ``acc_norm``); ``-inf`` stays.

    An option of 0 characters keeps its log-likelihood (nothing to divide by).
    """
    values, lengths = np.asarray(logliks, dtype=float), np.asarray(chars, dtype=float)
    return np.where(np.isfinite(values), values / np.where(lengths > 0, lengths, 1), -np.inf)
