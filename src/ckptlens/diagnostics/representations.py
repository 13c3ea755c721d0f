"""Representation space: how much a model's hidden states of a task's own prompts move between checkpoints.

Building blocks of the study's question "how does output instability relate to internal representations?":

- ``context_states``: for each prompt (the context a task's options share), per chosen layer, the hidden state
  mean-pooled over its tokens and the last token's, from one forward pass with ``output_hidden_states``;
- ``project``: float16, and a fixed random Gaussian projection to at most ``dims`` features (seeded, so every
  checkpoint is projected alike; states narrower than ``dims`` are kept as they are);
- ``linear_cka``: linear centred kernel alignment of two (examples x features) matrices (Kornblith et al. 2019),
  1 for identical representations and invariant to rotations and isotropic scaling of the features;
- ``cosine_change``: per example, 1 − cosine of its representation at two checkpoints.

Layer numbers follow ``output_hidden_states``: 0 is the embeddings, k the output of block k.

>>> import numpy as np
>>> x = np.random.default_rng(0).normal(size=(20, 5))
>>> rotation = np.linalg.qr(np.random.default_rng(1).normal(size=(5, 5)))[0]
>>> round(linear_cka(x, x), 9), round(linear_cka(x, 3 * x @ rotation), 9)
(1.0, 1.0)
>>> default_layers(12)
(6, 12)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

PROJECTION_DIMS = 256  # features kept per layer at most
PROJECTION_SEED = 0


def default_layers(n_layers: int) -> tuple[int, ...]:
    """The middle and the last block (``output_hidden_states`` numbering)."""
    return tuple(sorted({n_layers // 2, n_layers}))


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


def project(states: np.ndarray, dims: int = PROJECTION_DIMS, seed: int = PROJECTION_SEED) -> np.ndarray:
    """float16 states, through a fixed N(0, 1/dims) projection when wider than ``dims`` features."""
    states = np.asarray(states, dtype=np.float32)
    if states.shape[1] <= dims:
        return states.astype(np.float16)
    matrix = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(dims), size=(states.shape[1], dims))
    return (states @ matrix.astype(np.float32)).astype(np.float16)


@torch.no_grad()
def context_states(model, tokenizer, contexts: Sequence[str], layers: Sequence[int], batch_size: int = 16
                   ) -> dict[int, tuple[np.ndarray, np.ndarray]]:
    """Per layer: (mean-pooled, last-token) hidden states of each context, each (E, hidden) float32.

    Contexts are batched with right padding; pooling and the last token use the attention mask, so padding does
    not enter them.
    """
    model.eval()
    pooled: dict[int, list] = {layer: [] for layer in layers}
    last: dict[int, list] = {layer: [] for layer in layers}
    for start in range(0, len(contexts), batch_size):
        batch = tokenizer(list(contexts[start:start + batch_size]), return_tensors="pt", padding=True)
        mask = batch["attention_mask"]
        hidden = model(**batch, output_hidden_states=True).hidden_states
        ends = mask.shape[1] - 1 - mask.flip(1).argmax(dim=1)  # the last real token, whichever side pads
        weights = mask.unsqueeze(-1).to(hidden[0].dtype)
        for layer in layers:
            h = hidden[layer]
            pooled[layer].append(((h * weights).sum(dim=1) / weights.sum(dim=1)).float().numpy())
            last[layer].append(h[torch.arange(len(ends)), ends].float().numpy())
    return {layer: (np.concatenate(pooled[layer]), np.concatenate(last[layer])) for layer in layers}
