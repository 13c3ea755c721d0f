"""Representation space: how much a model's hidden states of a task's own prompts move between checkpoints.

Building blocks of the study's question "how does output instability relate to internal representations?":

- the states themselves come from ``evaluation.context_states`` (per chosen layer, each prompt's hidden state
  mean-pooled over its tokens and the last token's) and are kept by ``store.representations`` (float16, through a
  fixed seeded random projection to at most 256 features: ``project``; middle and last layers: ``default_layers``);
- ``linear_cka``: linear centred kernel alignment of two (examples x features) matrices (Kornblith et al. 2019),
  1 for identical representations and invariant to rotations and isotropic scaling of the features;
- ``cosine_change``: per example, 1 − cosine of its representation at two checkpoints.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(20, 5))
>>> rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]
>>> round(linear_cka(x, x), 9), round(linear_cka(x, 3 * x @ rotation), 9)
(1.0, 1.0)
>>> default_layers(12)
(6, 12)
"""

from __future__ import annotations

import numpy as np

from ckptlens.store.representations import PROJECTION_DIMS, PROJECTION_SEED, default_layers, project

__all__ = ["PROJECTION_DIMS", "PROJECTION_SEED", "cosine_change", "default_layers", "linear_cka", "project"]


def linear_cka(x: np.ndarray, y: np.ndarray) -> float:
    """Linear CKA: ‖Yᵀ X‖²_F / (‖Xᵀ X‖_F ‖Yᵀ Y‖_F) on column-centred float64 copies of x and y."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean(axis=0)
    y = y - y.mean(axis=0)
    cross = np.linalg.norm(y.T @ x) ** 2
    return float(cross / (np.linalg.norm(x.T @ x) * np.linalg.norm(y.T @ y)))


def cosine_change(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(E,) 1 − cosine similarity of each example's vector in ``a`` and in ``b``."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    norms = np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1)
    return 1.0 - (a * b).sum(axis=1) / np.where(norms > 0, norms, 1.0)
