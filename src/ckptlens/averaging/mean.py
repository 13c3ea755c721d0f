"""The averaging rule as pure functions of tensors (no files, no checkpoints).

A window's parameters are kept as a float32 *sum*. Every update is computed in
float64 and rounded to float32 once, so a fresh sum is within half an ulp of
the exact one and a sliding sum drifts by at most about half an ulp per update
(which is why the driver re-sums from scratch every so often).

The arithmetic runs in NumPy on views of the tensors: its single-threaded
float32 -> float64 accumulation streams at memory speed, where torch's
mixed-dtype in-place add measured 5 to 18 times slower on a shared 2-core CPU
(bench/mergekit_compare.py). bfloat16 has no NumPy dtype and is widened first.

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

import numpy as np
import torch

# Dtypes NumPy can read in place; others (bfloat16, float8) are widened to float32 first.
NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)
# Elements per block of ``blockwise_mean``: its float64 block (2 MiB) stays in the CPU cache.
BLOCK = 1 << 18


def is_averaged(dtype: torch.dtype) -> bool:
    """Floating-point tensors are averaged; integer and bool ones are copied from the newest checkpoint."""
    return dtype.is_floating_point


def fresh_sum(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """The float32 sum of ``tensors``, accumulated in float64 and rounded once.

    ``tensors`` may be a generator, so only one input tensor is alive at a time.
    """
    total: np.ndarray | None = None
    for tensor in tensors:
        if total is None:
            total = _array(tensor).astype(np.float64)
        else:
            np.add(total, _array(tensor), out=total)
    if total is None:
        raise ValueError("fresh_sum needs at least one tensor")
    return torch.from_numpy(total.astype(np.float32))


def slide(total: torch.Tensor, added: Iterable[torch.Tensor], removed: Iterable[torch.Tensor]) -> torch.Tensor:
    """Move a float32 window sum: add the tensors entering, subtract those leaving."""
    wide = _array(total).astype(np.float64)
    for tensor in added:
        np.add(wide, _array(tensor), out=wide)  # widened element by element, no float64 copy of the input
    for tensor in removed:
        np.subtract(wide, _array(tensor), out=wide)
    return torch.from_numpy(wide.astype(np.float32))


def ema_update(average: torch.Tensor, newest: torch.Tensor, decay: float) -> torch.Tensor:
    """One exponential-moving-average step ``decay * average + (1 - decay) * newest``, in float32.

    Computed in float64 and rounded once, like the window sums.
    """
    wide = np.multiply(_array(average), decay, dtype=np.float64)
    wide += np.multiply(_array(newest), 1 - decay, dtype=np.float64)
    return torch.from_numpy(wide.astype(np.float32))


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether a tensor holds no NaN or Inf; a NaN or Inf makes the sum non-finite, and a sum is fast.

    A finite sum proves every element finite; an overflowing sum falls back to the element-wise check.
    """
    array = _array(tensor)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(array.sum())) or bool(np.isfinite(array).all())


def finish(total: torch.Tensor, count: int, dtype: torch.dtype) -> torch.Tensor:
    """The mean ``total / count`` in ``dtype``.

    A float32 division is already correctly rounded, so no float64 copy is needed;
    a float16/bfloat16 output is then rounded once more.
    """
    quotient = torch.from_numpy(np.divide(_array(total), np.float32(count), dtype=np.float32))
    return quotient if dtype == torch.float32 else quotient.to(dtype)


def blockwise_mean(tensors: list[torch.Tensor], dtype: torch.dtype) -> tuple[torch.Tensor, bool]:
    """The element-wise mean in ``dtype``, block by block, and whether every input was finite.

    The float64 sum lives in one cache-sized block instead of a whole-tensor
    array, the finiteness check runs on that block (a NaN or Inf in any input
    makes it non-finite), and the float64 sum is divided before the single
    rounding to float32, so each input is read from memory once and the result
    is the correctly rounded mean of the float64 sum.
    """
    arrays = [_array(t).reshape(-1) for t in tensors]
    out = np.empty(arrays[0].size, np.float32)
    wide = np.empty(min(BLOCK, out.size), np.float64)
    finite = True
    for start in range(0, out.size, BLOCK):
        stop = min(start + BLOCK, out.size)
        block = wide[: stop - start]
        np.copyto(block, arrays[0][start:stop])
        for array in arrays[1:]:
            np.add(block, array[start:stop], out=block)
        with np.errstate(invalid="ignore"):
            finite = finite and bool(np.isfinite(block.sum()))
        np.divide(block, len(arrays), out=out[start:stop], casting="same_kind")
    result = torch.from_numpy(out).reshape(tensors[0].shape)
    return (result if dtype == torch.float32 else result.to(dtype)), finite


def mean(tensors: list[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """The element-wise mean of same-shaped tensors, in ``dtype`` (default: the first tensor's)."""
    return finish(fresh_sum(tensors), len(tensors), dtype or tensors[0].dtype)


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (a float32 copy for dtypes NumPy lacks)."""
    tensor = tensor.detach().cpu()
    return (tensor if tensor.dtype in NUMPY_FLOATS else tensor.float()).numpy()
