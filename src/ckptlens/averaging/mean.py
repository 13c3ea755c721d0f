"""The averaging rule as pure functions of tensors (no files, no checkpoints).

A window's parameters are kept as a float32 *sum*. Every update is computed in
float64 and rounded to float32 once, so a fresh sum is within half an ulp of
the exact one and a sliding sum drifts by at most about half an ulp per update
(which is why the driver re-sums from scratch every so often).

The arithmetic runs in NumPy on views of the tensors (memory-mapped inputs),
in cache-sized float64 blocks shared by two threads: no whole-tensor float64
array is ever made, and the float32 -> float64 accumulation streams at memory
speed, where torch's mixed-dtype in-place add measured 5 to 18 times slower on
a shared 2-core CPU (bench/mergekit_compare.py). bfloat16 has no NumPy dtype
and is widened to float32 first.

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
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

# Dtypes NumPy can read in place; others (bfloat16, float8) are widened to float32 first.
NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)
# Elements per block of ``blockwise_mean``: its float64 block (2 MiB) stays in the CPU cache.
BLOCK = 1 << 18
# Threads sharing the blocks of one large tensor; the write of the previous tensor runs beside them.
THREADS = 2
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="ckptlens-mean")


def is_averaged(dtype: torch.dtype) -> bool:
    """Floating-point tensors are averaged; integer and bool ones are copied from the newest checkpoint."""
    return dtype.is_floating_point


def fresh_sum(tensors: Iterable[torch.Tensor]) -> torch.Tensor:
    """The float32 sum of ``tensors``, accumulated in float64 block by block and rounded once."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("fresh_sum needs at least one tensor")
    total, _ = _blockwise([_array(t).reshape(-1) for t in tensors], 1)
    return torch.from_numpy(total).reshape(tensors[0].shape)


def slide(total: torch.Tensor, added: Iterable[torch.Tensor], removed: Iterable[torch.Tensor]) -> torch.Tensor:
    """Move a float32 window sum: add the tensors entering, subtract those leaving.

    Updates ``total`` in place, block by block (each block widened to float64,
    updated, rounded once), so no whole-tensor float64 copy is ever made; the
    inputs are memory-mapped views, so holding them all costs no memory.
    """
    plus, minus = [_array(t).reshape(-1) for t in added], [_array(t).reshape(-1) for t in removed]
    flat = _array(total).reshape(-1)
    wide = np.empty(min(BLOCK, flat.size), np.float64)
    for start in range(0, flat.size, BLOCK):
        stop = min(start + BLOCK, flat.size)
        block = wide[: stop - start]
        np.copyto(block, flat[start:stop])
        for array in plus:
            np.add(block, array[start:stop], out=block)
        for array in minus:
            np.subtract(block, array[start:stop], out=block)
        np.copyto(flat[start:stop], block, casting="same_kind")
    return total


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
    is the correctly rounded mean of the float64 sum. Large tensors are split
    between ``THREADS`` threads (NumPy releases the GIL).
    """
    out, finite = _blockwise([_array(t).reshape(-1) for t in tensors], len(tensors))
    result = torch.from_numpy(out).reshape(tensors[0].shape)
    return (result if dtype == torch.float32 else result.to(dtype)), finite


def _blockwise(arrays: list[np.ndarray], divisor: int) -> tuple[np.ndarray, bool]:
    """``sum(arrays) / divisor`` in float32 (float64 blocks, one rounding) and whether it is finite."""
    out = np.empty(arrays[0].size, np.float32)
    starts = range(0, out.size, BLOCK)
    if len(starts) < 2 * THREADS:
        return out, _blocks(arrays, divisor, out, starts)
    shares = [starts[i::THREADS] for i in range(THREADS)]
    return out, all(_POOL.map(lambda share: _blocks(arrays, divisor, out, share), shares))


def _blocks(arrays: list[np.ndarray], divisor: int, out: np.ndarray, starts: Iterable[int]) -> bool:
    """Fill the blocks of ``out`` beginning at ``starts``; whether they were all finite."""
    wide = np.empty(min(BLOCK, out.size), np.float64)
    finite = True
    for start in starts:
        stop = min(start + BLOCK, out.size)
        block = wide[: stop - start]
        np.copyto(block, arrays[0][start:stop])
        for array in arrays[1:]:
            np.add(block, array[start:stop], out=block)
        with np.errstate(invalid="ignore"):
            finite = finite and bool(np.isfinite(block.sum()))
        np.divide(block, divisor, out=out[start:stop], casting="same_kind")
    return finite


def mean(tensors: list[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """The element-wise mean of same-shaped tensors, in ``dtype`` (default: the first tensor's)."""
    return finish(fresh_sum(tensors), len(tensors), dtype or tensors[0].dtype)


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (a float32 copy for dtypes NumPy lacks)."""
    tensor = tensor.detach().cpu()
    return (tensor if tensor.dtype in NUMPY_FLOATS else tensor.float()).numpy()
