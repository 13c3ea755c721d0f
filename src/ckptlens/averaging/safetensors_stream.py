"""Write a safetensors file one tensor at a time, so no whole shard is ever held in memory.

The format is an 8-byte little-endian header length, a JSON header giving each
tensor's dtype, shape and byte range, then the raw bytes in that order. Shapes
and dtypes of an average are known before any weight is read, so the header is
written first and each tensor is written (and freed) as soon as it is computed;
the write buffer is the one tensor in hand. ``safetensors.safe_open`` and
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
import struct
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import torch

from ckptlens.averaging.weights import DTYPE_NAMES

ALIGNMENT = 8  # safetensors pads the header with spaces so the data starts 8-byte aligned


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
    path: Path, specs: dict[str, TensorSpec], tensors: Iterable[tuple[str, torch.Tensor]], metadata=None
) -> None:
    """Write ``tensors`` (name, tensor), which must arrive in ``specs`` order with those shapes and dtypes.

    One tensor is written on a background thread while the next is computed
    (both release the GIL), so the write buffer is at most one tensor.
    """
    expected = iter(specs.items())
    with Path(path).open("wb") as handle, ThreadPoolExecutor(max_workers=1) as writer:
        handle.write(header_bytes(specs, metadata or {"format": "pt"}))
        pending: Future | None = None
        for name, tensor in tensors:
            _check_matches(name, tensor, next(expected, (None, None)))
            data = tensor.contiguous().reshape(-1).view(torch.uint8).numpy()
            if pending is not None:
                pending.result()
            pending = writer.submit(handle.write, data)
        if pending is not None:
            pending.result()
    if next(expected, None) is not None:
        raise ValueError(f"{path}: fewer tensors written than the header lists")


def _check_matches(name: str, tensor: torch.Tensor, expected: tuple[str | None, TensorSpec | None]) -> None:
    want_name, want = expected
    if want is None or (name, tensor.dtype, tuple(tensor.shape)) != (want_name, want.dtype, want.shape):
        raise ValueError(
            f"tensor {name} {tensor.dtype}{list(tensor.shape)} does not match the header ({want_name} {want})"
        )
