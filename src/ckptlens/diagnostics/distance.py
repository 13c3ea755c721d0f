"""Distances between two parameter vectors, as pure functions of tensors (no files, no checkpoints).

Two checkpoints are compared through four float64 sums over their elements:
``‖b - a‖²``, ``a·b``, ``‖a‖²`` and ``‖b‖²``. Sums of tensors add up to the
sums of a module or a whole model, so a model is compared one tensor at a time
and only four numbers per module are ever kept. The squared difference is
summed directly, never as ``‖a‖² + ‖b‖² - 2a·b``, which cancels catastrophically
when neighbouring checkpoints are close (the case that matters).

>>> import torch
>>> s = pair_sums(torch.tensor([3.0, 0.0]), torch.tensor([3.0, 4.0]))
>>> l2(s), relative_l2(s), round(cosine(s), 4)
(4.0, 1.3333333333333333, 0.6)
>>> module_of("model.layers.3.mlp.up_proj.weight"), module_of("model.embed_tokens.weight")
('model.layers.3.mlp', 'model.embed_tokens')
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

# Elements widened to float64 at a time: 8 MiB per operand, so a huge embedding is never copied whole.
BLOCK = 1 << 20


@dataclass(frozen=True)
class PairSums:
    """The float64 sums that L2 distance and cosine similarity of ``a`` and ``b`` are made of."""

    diff_sq: float = 0.0  # ‖b - a‖²
    dot: float = 0.0  # a·b
    norm_a_sq: float = 0.0  # ‖a‖²
    norm_b_sq: float = 0.0  # ‖b‖²

    def __add__(self, other: PairSums) -> PairSums:
        return PairSums(
            self.diff_sq + other.diff_sq,
            self.dot + other.dot,
            self.norm_a_sq + other.norm_a_sq,
            self.norm_b_sq + other.norm_b_sq,
        )


def pair_sums(a: torch.Tensor, b: torch.Tensor) -> PairSums:
    """The sums of two same-shaped tensors, accumulated in float64 block by block (any float dtype in)."""
    if a.shape != b.shape:
        raise ValueError(f"pair_sums needs tensors of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    flat_a, flat_b = a.reshape(-1), b.reshape(-1)
    total = PairSums()
    for start in range(0, flat_a.numel(), BLOCK):
        block_a = flat_a[start : start + BLOCK].to(torch.float64)
        block_b = flat_b[start : start + BLOCK].to(torch.float64)
        total += PairSums(
            torch.sum((block_b - block_a) ** 2).item(),
            torch.dot(block_a, block_b).item(),
            torch.dot(block_a, block_a).item(),
            torch.dot(block_b, block_b).item(),
        )
    return total


def l2(sums: PairSums) -> float:
    """The L2 distance ‖b - a‖."""
    return math.sqrt(sums.diff_sq)


def relative_l2(sums: PairSums) -> float:
    """‖b - a‖ / ‖a‖: the step taken, as a fraction of the earlier checkpoint's norm; NaN when ‖a‖ = 0."""
    return math.sqrt(sums.diff_sq / sums.norm_a_sq) if sums.norm_a_sq > 0 else math.nan


def cosine(sums: PairSums) -> float:
    """a·b / (‖a‖ ‖b‖): 1 when the step only rescales the parameters; NaN when either is zero."""
    denominator = math.sqrt(sums.norm_a_sq * sums.norm_b_sq)
    return sums.dot / denominator if denominator > 0 else math.nan


def module_of(tensor: str) -> str:
    """The module a tensor is grouped under: the block inside a numbered layer, else its parent.

    ``model.layers.3.mlp.up_proj.weight`` -> ``model.layers.3.mlp`` (attention and MLP of a layer
    apart, its projections together); ``lm_head.weight`` -> ``lm_head``; a top-level name is its own module.
    """
    parts = tensor.split(".")
    for i, part in enumerate(parts[:-1]):
        if part.isdigit():
            return ".".join(parts[: min(i + 2, len(parts) - 1)])
    return ".".join(parts[:-1]) or tensor
