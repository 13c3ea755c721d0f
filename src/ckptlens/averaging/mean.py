"""The averaging rule as pure functions of tensors (no files, no checkpoints).

A window's parameters are kept as a float32 *sum*. Every update is computed in
float64 and rounded to float32 once, so a fresh sum is within half an ulp of
the exact one and a sliding sum drifts by at most about half an ulp per update
(which is why the driver re-sums from scratch every so often).

>>> import torch
>>> total = fresh_sum([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
>>> finish(total, 2, torch.bfloat16)
tensor([2., 3.], dtype=torch.bfloat16)
>>> finish(slide(total, [torch.tensor([5.0, 6.0])], [torch.tensor([1.0, 2.0])]), 2, torch.float32)
tensor([4., 5.])
>>> ema_update(torch.tensor([0.0, 4.0]), torch.tensor([2.0, 0.0]), decay=0.75)
tensor([0.5000, 3.0000])
"""

from __future__ import annotations

from collections.abc import Iterable

import torch


def is_averaged(dtype: torch.dtype) -> bool:
    """Floating-point tensors are averaged; integer and bool ones are copied from the newest checkpoint."""
    return dtype.is_floating_point


def fresh_sum(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """The float32 sum of ``tensors``, accumulated in float64 and rounded once.

    ``tensors`` may be a generator, so only one input tensor is alive at a time.
    """
    total: torch.Tensor | None = None
    for tensor in tensors:
        total = tensor.to(torch.float64) if total is None else total.add_(tensor)
    if total is None:
        raise ValueError("fresh_sum needs at least one tensor")
    return total.to(torch.float32)


def slide(total: torch.Tensor, added: Iterable[torch.Tensor], removed: Iterable[torch.Tensor]) -> torch.Tensor:
    """Move a float32 window sum: add the tensors entering, subtract those leaving."""
    wide = total.to(torch.float64)
    for tensor in added:
        wide.add_(tensor)  # promoted to float64 element by element, no float64 copy
    for tensor in removed:
        wide.sub_(tensor)
    return wide.to(torch.float32)


def ema_update(average: torch.Tensor, newest: torch.Tensor, decay: float) -> torch.Tensor:
    """One exponential-moving-average step ``decay * average + (1 - decay) * newest``, in float32.

    Computed in float64 and rounded once, like the window sums.
    """
    wide = average.to(torch.float64).mul_(decay)
    return wide.add_(newest.to(torch.float64), alpha=1 - decay).to(torch.float32)


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether a tensor holds no NaN or Inf; a NaN or Inf makes the sum non-finite, and a sum is fast."""
    return bool(torch.isfinite(tensor.sum())) or bool(torch.isfinite(tensor).all())


def finish(total: torch.Tensor, count: int, dtype: torch.dtype) -> torch.Tensor:
    """The mean ``total / count`` in ``dtype``.

    A float32 division is already correctly rounded, so no float64 copy is needed;
    a float16/bfloat16 output is then rounded once more.
    """
    return (total / count).to(dtype)


def mean(tensors: list[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """The element-wise mean of same-shaped tensors, in ``dtype`` (default: the first tensor's)."""
    return finish(fresh_sum(tensors), len(tensors), dtype or tensors[0].dtype)
