"""Builders of bad inputs for the robustness cases: each writes under the case's folder, never the shared series."""

from __future__ import annotations

import json
import shutil
import struct
from pathlib import Path

FIRST = "step000010"  # the first checkpoint: damaged there, nothing is evaluated before the error


def copy_series(tmp: Path, series: Path) -> Path:
    """A private copy of the shared series, as ``tmp/series``."""
    target = tmp / "series"
    if not target.exists():
        shutil.copytree(series, target)
    return target


def weights(tmp: Path, series: Path, checkpoint: str = FIRST) -> Path:
    return copy_series(tmp, series) / checkpoint / "model.safetensors"


def header(path: Path) -> tuple[dict, bytes]:
    """The JSON header and the data bytes of a safetensors file."""
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def write_safetensors(path: Path, head: dict | bytes, data: bytes, length: int | None = None) -> None:
    """A safetensors file from a header (dict or raw bytes) and data; ``length`` overrides the length prefix."""
    text = head if isinstance(head, bytes) else json.dumps(head).encode()
    path.write_bytes(struct.pack("<Q", len(text) if length is None else length) + text + data)


def edit_header(tmp: Path, series: Path, change, checkpoint: str = FIRST) -> None:
    """Apply ``change(header)`` to the first tensor entry of a copied checkpoint's header and rewrite it."""
    path = weights(tmp, series, checkpoint)
    head, data = header(path)
    name = next(k for k in head if k != "__metadata__")
    change(head[name])
    write_safetensors(path, head, data)


def write(path: Path, content: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return path


def shard(tmp: Path, series: Path, checkpoint: str = FIRST) -> Path:
    """Turn a copied checkpoint into a sharded one (one shard plus an index); returns the index path."""
    folder = copy_series(tmp, series) / checkpoint
    head, _ = header(folder / "model.safetensors")
    (folder / "model.safetensors").rename(folder / "model-00001-of-00001.safetensors")
    index = {"metadata": {}, "weight_map": {k: "model-00001-of-00001.safetensors" for k in head if k != "__metadata__"}}
    return write(folder / "model.safetensors.index.json", json.dumps(index))
