"""Write an averaged checkpoint as a normal Hugging Face folder, atomically, and the series manifest.

Everything goes into a hidden temporary folder beside the target, unique to the
writer (``files.atomic_dir``), and is renamed into place at the end, so a crash
never leaves a folder that looks finished (resuming relies on that), and two
commands writing one ``--out`` never write into each other's folder. Files that are not weights (config,
generation config, tokenizer) are copied from the newest member of the window.
Weights are streamed: each tensor, or block of one, is written as soon as it is computed.

>>> import tempfile, torch, pathlib
>>> src, out = pathlib.Path(tempfile.mkdtemp()), pathlib.Path(tempfile.mkdtemp())
>>> _ = (src / "config.json").write_text("{}")
>>> weights = OutputFile("model.safetensors", {"w": TensorSpec(torch.float32, (2,))}, [("w", torch.zeros(2))])
>>> write_checkpoint(out / "avg", src, [weights], sharded=False).name
'avg'
>>> sorted(p.name for p in (out / "avg").iterdir())
['config.json', 'model.safetensors']
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch

from ckptlens.checkpoints.safetensors_stream import Fill, TensorSpec, write_streamed
from ckptlens.checkpoints.weights import INDEX_FILE
from ckptlens.files import atomic_dir, write_text_atomic

# Weights, optimizer and RNG states are never copied: the average has its own
# weights, and a trainer state of one member would be wrong for the average.
NOT_COPIED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".msgpack", ".h5")
NOT_COPIED_NAMES = (INDEX_FILE, "pytorch_model.bin.index.json")
MANIFEST = "manifest.json"


@dataclass(frozen=True)
class OutputFile:
    """One weight file to write: its tensors' specs (file order) and the tensors (or Fills), usually lazily."""

    name: str
    specs: dict[str, TensorSpec]
    tensors: Iterable[tuple[str, torch.Tensor | Fill]]


def write_checkpoint(
    out: Path,
    source: Path,
    files: Iterable[OutputFile],
    sharded: bool,
    config_dtype: str | None = None,
) -> Path:
    """Write the weight ``files`` and ``source``'s other files to the folder ``out``.

    ``sharded`` also writes a ``model.safetensors.index.json``; ``config_dtype``
    (e.g. ``"float32"``) rewrites the dtype recorded in ``config.json`` when the
    output dtype differs from the stored one.
    """
    with atomic_dir(out) as partial:
        _copy_non_weights(source, partial)
        weight_map: dict[str, str] = {}
        total_size = 0
        for file in files:
            write_streamed(partial / file.name, file.specs, file.tensors)
            weight_map.update(dict.fromkeys(file.specs, file.name))
            total_size += sum(spec.nbytes for spec in file.specs.values())
        if sharded:
            index = {"metadata": {"total_size": total_size}, "weight_map": weight_map}
            (partial / INDEX_FILE).write_text(json.dumps(index, indent=2) + "\n")
        if config_dtype is not None:
            _set_config_dtype(partial / "config.json", config_dtype)
    return out


def read_manifest(out_dir: Path) -> dict | None:
    """The manifest of an output folder, or None when there is none yet."""
    path = out_dir / MANIFEST
    from ckptlens.checkpoints.manifest import read_manifest as read_series_manifest

    return read_series_manifest(path) if path.is_file() else None


def write_manifest(out_dir: Path, manifest: dict) -> None:
    """Replace ``out_dir/manifest.json`` atomically (write a temporary file, then rename)."""
    write_text_atomic(out_dir / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def _copy_non_weights(source: Path, target: Path) -> None:
    for path in sorted(source.iterdir()):
        if path.is_file() and path.name not in NOT_COPIED_NAMES and not path.name.endswith(NOT_COPIED_SUFFIXES):
            shutil.copy2(path, target / path.name)


def _set_config_dtype(config_path: Path, dtype_name: str) -> None:
    if not config_path.is_file():
        return
    config = json.loads(config_path.read_text())
    for key in ("dtype", "torch_dtype"):
        if key in config:
            config[key] = dtype_name
    config_path.write_text(json.dumps(config, indent=2) + "\n")
