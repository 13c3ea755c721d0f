"""Write a safetensors file one tensor at a time, so no whole shard is ever held in memory.

The format is an 8-byte little-endian header length, a JSON header giving each
tensor's dtype, shape and byte range, then the raw bytes in that order. Shapes
and dtypes of an average are known before any weight is read, so the header is
written first and each tensor is written (and freed) as soon as it is computed;
the write buffer is the one tensor in hand, or one block of a tensor that is
computed while it is written (a ``Fill``). ``safetensors.safe_open`` and
``from_pretrained`` read the result like any ``save_file`` output.

>>> import tempfile, torch, pathlib; from safetensors.torch import load_file
>>> path = pathlib.Path(tempfile.mkdtemp()) / "model.safetensors"
>>> specs = {"w": TensorSpec(torch.float32, (2, 2)), "b": TensorSpec(torch.bfloat16, (3,))}
>>> write_streamed(path, specs, iter([("w", torch.eye(2)), ("b", torch.ones(3, dtype=torch.bfloat16))]))
>>> load_file(path)["w"]
tensor([[1., 0.],
        [0., 1.]])
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from ckptlens.checkpoints.weights import DTYPE_NAMES

Sink = Callable[[int, torch.Tensor], None]
"""Takes (index of a block's first element, the block's values); called from worker threads, blocks in any order."""
ALIGNMENT = 8  # safetensors pads the header with spaces so the data starts 8-byte aligned
Fill = Callable[[Sink], None]
"""Computes one tensor's values and hands them to the sink it is given, block by block."""


@dataclass(frozen=True)
class TensorSpec:
    """What a tensor will be, known before it is computed."""

    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


def header_bytes(specs: dict[str, TensorSpec], metadata: dict[str, str] | None = None) -> bytes:
    """The length prefix and JSON header for tensors laid out in ``specs`` order."""
    header: dict[str, object] = {"__metadata__": metadata} if metadata else {}
    offset = 0
    for name, spec in specs.items():
        header[name] = {
            "dtype": DTYPE_NAMES[spec.dtype],
            "shape": list(spec.shape),
            "data_offsets": [offset, offset + spec.nbytes],
        }
        offset += spec.nbytes
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-(len(text) + 8) % ALIGNMENT)
    return struct.pack("<Q", len(text)) + text


def write_streamed(
    path: Path,
    specs: dict[str, TensorSpec],
    tensors: Iterable[tuple[str, torch.Tensor | Fill]],
    metadata: dict[str, str] | None = None,
) -> None:
    """Write ``tensors`` (name, value), which must arrive in ``specs`` order with those shapes and dtypes.

    A value is a tensor, written as it comes, or a ``Fill``: called with a sink
    that writes each block of values at its place in the file as soon as it is
    computed (blocks may come from several threads, in any order), so the
    write buffer is one block.
    """
    expected = iter(specs.items())
    with Path(path).open("wb") as handle:
        header = header_bytes(specs, metadata or {"format": "pt"})
        handle.write(header)
        handle.flush()
        fd, offset = handle.fileno(), len(header)
        for name, value in tensors:
            want_name, want = next(expected, (None, None))
            if isinstance(value, torch.Tensor):
                _check_matches(name, value, want_name, want)
                _write_at(fd, value, offset)
            else:
                _check_matches(name, None, want_name, want)
                value(_sink(fd, offset, want.dtype))
            offset += want.nbytes
        if next(expected, None) is not None:
            raise ValueError(f"{path}: fewer tensors written than the header lists")
        if os.fstat(fd).st_size != offset:
            raise ValueError(f"{path}: the values written do not fill the header's {offset} bytes")


def _sink(fd: int, offset: int, dtype: torch.dtype) -> Sink:
    """Writes a block of ``dtype`` values that starts at element ``start`` of the tensor at ``offset``."""

    def write(start: int, values: torch.Tensor) -> None:
        if values.dtype != dtype:
            raise ValueError(f"a block of {values.dtype} values for a {dtype} tensor")
        _write_at(fd, values, offset + start * dtype.itemsize)

    return write


def _write_at(fd: int, tensor: torch.Tensor, offset: int) -> None:
    """Write the tensor's bytes at ``offset`` (``os.pwrite`` may write less than asked, so loop)."""
    view = memoryview(tensor.contiguous().reshape(-1).view(torch.uint8).numpy())
    while view:
        written = os.pwrite(fd, view, offset)
        view, offset = view[written:], offset + written


def _check_matches(name: str, tensor: torch.Tensor | None, want_name: str | None, want: TensorSpec | None) -> None:
    """A tensor must have the header's name, dtype and shape; a Fill (``tensor`` None) the header's name."""
    got = None if tensor is None else (tensor.dtype, tuple(tensor.shape))
    if want is None or name != want_name or got not in (None, (want.dtype, want.shape)):
        described = "" if got is None else f" {got[0]}{list(got[1])}"
        raise ValueError(f"tensor {name}{described} does not match the header ({want_name} {want})")
