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
and is widened to float32 one block at a time.

A mean on its way to a file is handed to a ``sink`` block by block, so it is
never held whole: each block is summed, rounded and written while it is still
in the CPU cache (``mean_to``, ``quotient_to``). Each input is read once, and
the sum's finiteness comes with it: a NaN or Inf in any input makes the float64
sum non-finite, and a float64 sum of float32 values cannot overflow.

>>> import torch
>>> total, finite = fresh_sum([torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])])
>>> finish(total, 2, torch.bfloat16), finite
(tensor([2., 3.], dtype=torch.bfloat16), True)
>>> slide(total, [torch.tensor([5.0, 6.0])], [torch.tensor([1.0, 2.0])]), finish(total, 2, torch.float32)
(True, tensor([4., 5.]))
>>> ema_update(torch.tensor([0.0, 4.0]), torch.tensor([2.0, 0.0]), decay=0.75)
tensor([0.5000, 3.0000])
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ckptlens.checkpoints.safetensors_stream import Sink

# Dtypes NumPy can read in place; others (bfloat16, float8) are widened to float32 block by block.
NUMPY_FLOATS = (torch.float16, torch.float32, torch.float64)
# Elements per block: its float64 scratch (1 MiB) and float32 result stay in the CPU cache
# (131072 measured fastest of 2**14..2**18 on the mergekit benchmark).
BLOCK = 1 << 17
# Threads sharing the blocks of one large tensor (NumPy and file writes release the GIL).
THREADS = 2
_POOL = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="ckptlens-mean")
_LOCAL = threading.local()

Flat = np.ndarray | torch.Tensor  # a flattened input: a NumPy view, or a torch tensor of a dtype NumPy lacks


def is_averaged(dtype: torch.dtype) -> bool:
    """Floating-point tensors are averaged; integer and bool ones are copied from the newest checkpoint."""
    return dtype.is_floating_point


def fresh_sum(tensors: Iterable[torch.Tensor]) -> tuple[torch.Tensor, bool]:
    """The float32 sum of ``tensors`` (each element rounded once from float64) and whether it is finite."""
    tensors = list(tensors)
    if not tensors:
        raise ValueError("fresh_sum needs at least one tensor")
    flats = [_flat(t) for t in tensors]
    total = np.empty(len(flats[0]), np.float32)

    def fill(start: int, stop: int, scratch: _Scratch) -> bool:
        block = scratch.sum_of(flats, start, stop)
        np.copyto(total[start:stop], block, casting="same_kind")
        return _finite(block)

    finite = _for_blocks(total.size, fill)
    return torch.from_numpy(total).reshape(tensors[0].shape), finite


def slide(total: torch.Tensor, added: Iterable[torch.Tensor], removed: Iterable[torch.Tensor]) -> bool:
    """Move a float32 window sum in place: add the tensors entering, subtract those leaving; whether it is finite.

    Block by block, each widened to float64, updated and rounded once, so no
    whole-tensor float64 copy is ever made.
    """
    plus, minus = [_flat(t) for t in added], [_flat(t) for t in removed]
    flat = _array(total).reshape(-1)

    def fill(start: int, stop: int, scratch: _Scratch) -> bool:
        block = scratch.sum_of([flat, *plus], start, stop, minus)
        np.copyto(flat[start:stop], block, casting="same_kind")
        return _finite(block)

    return _for_blocks(flat.size, fill)


def mean_to(tensors: Sequence[torch.Tensor], dtype: torch.dtype, sink: Sink) -> bool:
    """Hand the element-wise mean of same-shaped ``tensors``, in ``dtype``, to ``sink``; whether all were finite.

    The float64 sum of a block is divided before the single rounding to
    float32, so every element is the float64 mean rounded once: bit-identical
    to ``(sum in float64 / n).to(float32)``. For a power-of-two n the division
    is a multiplication by the exact inverse (same bits, 4% faster end to end).
    """
    flats = [_flat(t) for t in tensors]
    scale, operand = _divide_by(len(flats))

    def fill(start: int, stop: int, scratch: _Scratch) -> bool:
        block = scratch.sum_of(flats, start, stop)
        finite = _finite(block)
        narrow = scratch.narrow[: stop - start]
        scale(block, operand, out=narrow, casting="same_kind")
        sink(start, _as_dtype(narrow, dtype))
        return finite

    return _for_blocks(len(flats[0]), fill)


def quotient_to(total: torch.Tensor, count: int, dtype: torch.dtype, sink: Sink) -> None:
    """Hand ``finish(total, count, dtype)`` to ``sink`` block by block instead of as one new tensor."""
    flat = _array(total).reshape(-1)

    def fill(start: int, stop: int, scratch: _Scratch) -> bool:
        narrow = scratch.narrow[: stop - start]
        np.divide(flat[start:stop], np.float32(count), out=narrow)
        sink(start, _as_dtype(narrow, dtype))
        return True

    _for_blocks(flat.size, fill)


def ema_update(average: torch.Tensor, newest: torch.Tensor, decay: float) -> torch.Tensor:
    """One exponential-moving-average step ``decay * average + (1 - decay) * newest``, in float32.

    Computed in float64 and rounded once, like the window sums.
    """
    wide = np.multiply(_array(average), decay, dtype=np.float64)
    wide += np.multiply(_array(newest), 1 - decay, dtype=np.float64)
    return torch.from_numpy(wide.astype(np.float32))


def finish(total: torch.Tensor, count: int, dtype: torch.dtype) -> torch.Tensor:
    """The mean ``total / count`` in ``dtype``.

    A float32 division is already correctly rounded, so no float64 copy is needed;
    a float16/bfloat16 output is then rounded once more.
    """
    return _as_dtype(np.divide(_array(total), np.float32(count), dtype=np.float32), dtype)


def mean(tensors: list[torch.Tensor], dtype: torch.dtype | None = None) -> torch.Tensor:
    """The element-wise mean of same-shaped tensors, in ``dtype`` (default: the first tensor's), in memory."""
    dtype = dtype or tensors[0].dtype
    out = torch.empty(tensors[0].numel(), dtype=dtype)
    mean_to(tensors, dtype, lambda start, values: out[start : start + len(values)].copy_(values))
    return out.reshape(tensors[0].shape)


class _Scratch:
    """One thread's reusable blocks: the float64 accumulator and the float32 result."""

    def __init__(self, size: int):
        self.wide = np.empty(size, np.float64)
        self.narrow = np.empty(size, np.float32)

    def sum_of(self, flats: list[Flat], start: int, stop: int, minus: Sequence[Flat] = ()) -> np.ndarray:
        """The float64 sum of ``flats[start:stop]``, less that of ``minus``, in the accumulator."""
        block = self.wide[: stop - start]
        np.copyto(block, _piece(flats[0], start, stop))
        for array in flats[1:]:
            np.add(block, _piece(array, start, stop), out=block)
        for array in minus:
            np.subtract(block, _piece(array, start, stop), out=block)
        return block


def _for_blocks(size: int, fill: Callable[[int, int, _Scratch], bool]) -> bool:
    """Call ``fill(start, stop, scratch)`` on every block of ``range(size)``; whether every call returned True.

    Large tensors are dealt out block by block to ``THREADS`` threads, so
    neighbouring blocks are in flight together; every call has returned when
    this does.
    """
    starts = range(0, size, BLOCK)
    if len(starts) < 2 * THREADS:
        return _run_share(size, fill, starts)
    shares = [starts[i::THREADS] for i in range(THREADS)]
    return all(list(_POOL.map(lambda share: _run_share(size, fill, share), shares)))


def _run_share(size: int, fill: Callable[[int, int, _Scratch], bool], starts: Iterable[int]) -> bool:
    scratch = _thread_scratch(min(BLOCK, size))
    results = [fill(start, min(start + BLOCK, size), scratch) for start in starts]
    return all(results)


def _thread_scratch(size: int) -> _Scratch:
    """This thread's scratch blocks, kept between tensors: fresh ones would cost page faults every time."""
    scratch = getattr(_LOCAL, "scratch", None)
    if scratch is None or scratch.wide.size < size:
        scratch = _LOCAL.scratch = _Scratch(size)
    return scratch


def _divide_by(count: int) -> tuple[np.ufunc, float]:
    """``(np.divide, n)``, or ``(np.multiply, 1/n)`` where that is exact: 1/n is exact for a power of two."""
    return (np.multiply, 1.0 / count) if count & (count - 1) == 0 else (np.divide, float(count))


def _finite(block: np.ndarray) -> bool:
    with np.errstate(invalid="ignore"):
        return bool(np.isfinite(block.sum()))


def _as_dtype(narrow: np.ndarray, dtype: torch.dtype) -> torch.Tensor:
    values = torch.from_numpy(narrow)
    return values if dtype == torch.float32 else values.to(dtype)


def _flat(tensor: torch.Tensor) -> Flat:
    """A flat NumPy view of a CPU tensor, or the flat tensor itself for dtypes NumPy lacks."""
    tensor = tensor.detach().cpu().reshape(-1)
    return tensor.numpy() if tensor.dtype in NUMPY_FLOATS else tensor


def _piece(flat: Flat, start: int, stop: int) -> np.ndarray:
    """Elements ``start:stop`` as a NumPy array (bfloat16 and float8 widened to float32)."""
    piece = flat[start:stop]
    return piece if isinstance(piece, np.ndarray) else piece.float().numpy()


def _array(tensor: torch.Tensor) -> np.ndarray:
    """A NumPy view of a CPU tensor (a float32 copy for dtypes NumPy lacks)."""
    tensor = tensor.detach().cpu()
    return (tensor if tensor.dtype in NUMPY_FLOATS else tensor.float()).numpy()
