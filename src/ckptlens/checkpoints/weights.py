"""Read a checkpoint folder's safetensors weights: the layout from the headers, tensors via memory maps.

The layout (tensor name -> dtype, shape, file, byte range) comes from the
safetensors headers alone, so a whole series can be checked for agreement
before a single weight is read, and truncated files are caught up front. A
tensor is then a zero-copy view of the memory-mapped file: reading costs no
anonymous memory, and the averaging arithmetic reads the page cache directly.

>>> import tempfile, torch, pathlib; from safetensors.torch import save_file
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> save_file({"w": torch.ones(2, 3)}, str(folder / "model.safetensors"))
>>> read_layout(folder).tensors["w"]
TensorInfo(dtype='F32', shape=(2, 3), file='model.safetensors')
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch

from ckptlens.checkpoints.tensor_names import model_names
from ckptlens.errors import CkptlensError
from ckptlens.files import read_json

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
HEADER_LIMIT = 100 * 1024 * 1024  # safetensors itself refuses headers above 100 MB


@dataclass(frozen=True)
class TensorInfo:
    """Where one tensor lives and what it is, as its safetensors header says."""

    dtype: str
    shape: tuple[int, ...]
    file: str
    span: tuple[int, int] = field(default=(0, 0), repr=False, compare=False)  # bytes from the file's start
    stored: str = field(default="", repr=False, compare=False)  # the name in the file, when the layout renames it


@dataclass(frozen=True)
class Layout:
    """Every tensor of a checkpoint, in file order; ``sharded`` when an index file lists the shards.

    A layout read with ``read_model_layout`` names tensors as the model does (``TensorInfo.stored`` keeps the
    file's name) and leaves out the ``ignored`` ones, which the model drops on load (stale buffers); ``tied``
    maps a tied name to the one it shares.
    """

    tensors: dict[str, TensorInfo]
    sharded: bool
    ignored: frozenset[str] = frozenset()
    tied: dict[str, str] = field(default_factory=dict)

    def files(self) -> list[str]:
        """The weight files, in the order their first tensor appears."""
        return list(dict.fromkeys(info.file for info in self.tensors.values()))

    def info(self, name: str) -> TensorInfo:
        """Where tensor ``name`` is; a tied tensor left out of the file is read from the tensor it is tied to."""
        if name not in self.tensors and self.tied.get(name) in self.tensors:
            return self.tensors[self.tied[name]]
        return self.tensors[name]

    def has(self, name: str) -> bool:
        return name in self.tensors or self.tied.get(name) in self.tensors

    def stored_name(self, name: str) -> str:
        """The name tensor ``name`` has in the checkpoint's files."""
        return self.tensors[name].stored or name


def read_layout(folder: Path) -> Layout:
    """The layout of the safetensors weights in ``folder`` (single file or sharded with an index)."""
    folder = Path(folder)
    if (folder / INDEX_FILE).is_file():
        files = _shard_files(folder / INDEX_FILE)
        sharded = True
    elif (folder / SINGLE_FILE).is_file():
        files, sharded = [SINGLE_FILE], False
    else:
        raise CkptlensError(_no_weights_message(folder))
    tensors: dict[str, TensorInfo] = {}
    for file in files:
        tensors.update(_read_header(folder, file))
    return Layout(tensors, sharded)


def read_model_layout(folder: Path) -> Layout:
    """The layout of ``folder`` under the names its model has in transformers (see ``tensor_names``).

    Checkpoints of one model saved under different names (Pythia's ``embed_out.weight`` and transformers 5's
    ``lm_head.weight``, with or without the base model prefix, a tied output layer stored or not) get one naming;
    tensors the model drops on load are left out, so they are neither averaged nor compared nor measured.
    """
    layout = read_layout(folder)
    names = model_names(folder, layout.tensors)
    tensors = {
        names.renamed[name]: replace(info, stored=name)
        for name, info in layout.tensors.items()
        if name not in names.ignored
    }
    return Layout(tensors, layout.sharded, names.ignored, names.tied)


def compare_layouts(newest: Layout, newest_name: str, other: Layout, other_name: str) -> None:
    """Raise a one-line error naming the first tensor whose name, shape or dtype differs."""
    _require_names(newest, newest_name, other, other_name)
    _require_names(other, other_name, newest, newest_name)
    for name, info in newest.tensors.items():
        theirs = other.info(name)
        if (info.shape, info.dtype) != (theirs.shape, theirs.dtype):
            raise CkptlensError(
                f"tensor {name} is {info.dtype}{list(info.shape)} in {newest_name} but "
                f"{theirs.dtype}{list(theirs.shape)} in {other_name}; "
                "only checkpoints of one architecture can be combined"
            )


class WeightReader:
    """Tensors of one open checkpoint, read from its memory-mapped files; floats are checked finite."""

    def __init__(self, name: str, layout: Layout, maps: dict[str, np.memmap]):
        self.name = name
        self.layout = layout
        self._maps = maps

    def get(self, tensor: str, check_finite: bool = True) -> torch.Tensor:
        """The tensor ``tensor``; a NaN or Inf in a floating-point tensor is an error.

        ``check_finite=False`` skips that check, for callers that check the result of their sum instead
        (and call ``get`` again to name the checkpoint when it is not finite).
        """
        info = self.layout.info(tensor)
        value = _view(self._maps[info.file][info.span[0] : info.span[1]], info)
        if check_finite and value.dtype.is_floating_point and not all_finite(value):
            raise CkptlensError(
                f"tensor {tensor} of {self.name} holds NaN or Inf; drop that checkpoint from the series or repair it"
            )
        return value

    def is_tied_copy(self, tensor: str) -> bool:
        """Whether ``tensor`` is a tied tensor that only repeats the one it is tied to (or is not stored at all):
        transformers loads it as that one parameter (it unties the two only when their values differ)."""
        source = self.layout.tied.get(tensor)
        if source not in self.layout.tensors:
            return False
        return tensor not in self.layout.tensors or torch.equal(self.get(tensor, False), self.get(source, False))


@contextmanager
def open_weights(name: str, folder: Path, layout: Layout) -> Iterator[WeightReader]:
    """Map every weight file of a checkpoint once, copy-on-write (the files are never changed).

    Tensors taken from the reader stay valid after the block: each keeps its map alive.
    """
    maps = {}
    for file in layout.files():
        try:
            maps[file] = np.memmap(Path(folder) / file, dtype=np.uint8, mode="c")
        except (OSError, ValueError) as error:
            raise CkptlensError(f"cannot open {Path(folder) / file} of {name}: {error}") from error
    yield WeightReader(name, layout, maps)


def all_finite(tensor: torch.Tensor) -> bool:
    """Whether a tensor holds no NaN or Inf; a NaN or Inf makes the sum non-finite, and a sum is fast.

    A finite sum proves every element finite; an overflowing sum falls back to the element-wise check.
    """
    tensor = tensor.detach().cpu()
    array = (tensor if tensor.dtype in (torch.float16, torch.float32, torch.float64) else tensor.float()).numpy()
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.isfinite(array.sum())) or bool(np.isfinite(array).all())


def torch_dtype(safetensors_dtype: str) -> torch.dtype:
    """The torch dtype of a safetensors header dtype string such as ``BF16``."""
    return _DTYPES[safetensors_dtype]


def _view(raw: np.ndarray, info: TensorInfo) -> torch.Tensor:
    """The bytes ``raw`` as a tensor of ``info``'s dtype and shape, without a copy when they are aligned."""
    dtype = torch_dtype(info.dtype)
    if info.span[0] % dtype.itemsize:
        raw = raw.copy()
    return torch.from_numpy(raw).view(dtype).reshape(info.shape)


def _require_names(have: Layout, have_name: str, other: Layout, other_name: str) -> None:
    missing = missing_tensors(have, other)
    if missing:
        raise CkptlensError(
            f"tensor {missing[0]} is in {have_name} but missing from {other_name}; "
            "only checkpoints of one architecture can be combined"
        )


def missing_tensors(have: Layout, other: Layout) -> list[str]:
    """The tensors of ``have`` that ``other`` lacks, sorted (a tied tensor ``other`` left out is not missing)."""
    return sorted(name for name in have.tensors if not other.has(name))


def _shard_files(index: Path) -> list[str]:
    """The shard files an index lists, in order; an index that does not parse or lists no files is an error."""
    data = read_json(index, "copy the checkpoint again")
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    if not isinstance(weight_map, dict) or not weight_map or not all(isinstance(f, str) for f in weight_map.values()):
        raise CkptlensError(f"{index} has no 'weight_map' of tensor -> shard file; copy the checkpoint again")
    return list(dict.fromkeys(weight_map.values()))


def _read_header(folder: Path, file: str) -> dict[str, TensorInfo]:
    path = folder / file
    if not path.is_file():
        raise CkptlensError(
            f"shard {file} listed in {folder / INDEX_FILE} is missing; copy the complete checkpoint again"
        )
    size = path.stat().st_size
    with path.open("rb") as handle:
        prefix = handle.read(8)
        length = struct.unpack("<Q", prefix)[0] if len(prefix) == 8 else None
        if length is None or length > min(HEADER_LIMIT, size - 8):
            raise CkptlensError(f"{path} is truncated or not a safetensors file; copy it again")
        raw = handle.read(length)
    header = _parse_header(path, raw)
    data_size = size - 8 - length
    tensors = {}
    for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
        begin, end = entry["data_offsets"]
        if entry["dtype"] not in _DTYPES:
            raise CkptlensError(
                f"{path}: tensor {name} has dtype {entry['dtype']!r}, which ckptlens cannot read "
                f"(known: {', '.join(_DTYPES)}); convert the checkpoint"
            )
        if not 0 <= begin <= end <= data_size or not _size_matches(entry, end - begin):
            raise CkptlensError(f"{path} is truncated or corrupt at tensor {name}; copy it again")
        tensors[name] = TensorInfo(entry["dtype"], tuple(entry["shape"]), file, (8 + length + begin, 8 + length + end))
    return tensors


def _parse_header(path: Path, raw: bytes) -> dict[str, dict]:
    """The header's tensor entries, each checked to hold a dtype string, a shape and two integer offsets."""
    try:
        header = json.loads(raw)
    except ValueError as error:
        raise CkptlensError(f"{path} has a corrupt safetensors header ({error}); copy it again") from None
    if not isinstance(header, dict):
        raise CkptlensError(f"{path} has a corrupt safetensors header (not a JSON object); copy it again")
    header.pop("__metadata__", None)
    for name, entry in header.items():
        if not _well_formed(entry):
            raise CkptlensError(f"{path} has a corrupt safetensors header at tensor {name}; copy it again")
    return header


def _well_formed(entry: object) -> bool:
    def ints(values: object, count: int | None = None) -> bool:
        return isinstance(values, list) and all(type(v) is int and v >= 0 for v in values) and (
            count is None or len(values) == count
        )

    return (
        isinstance(entry, dict) and isinstance(entry.get("dtype"), str)
        and ints(entry.get("shape")) and ints(entry.get("data_offsets"), 2)
    )


def _size_matches(entry: dict, nbytes: int) -> bool:
    count = 1
    for size in entry["shape"]:
        count *= size
    return count * _DTYPES[entry["dtype"]].itemsize == nbytes


def _no_weights_message(folder: Path) -> str:
    if any(folder.glob("*.bin")) or any(folder.glob("*.pt")):
        return (
            f"{folder} has only PyTorch .bin/.pt weights; convert it to safetensors first "
            "(load it and call save_pretrained(..., safe_serialization=True))"
        )
    return f"no weights in {folder}: expected {SINGLE_FILE} or {INDEX_FILE}"


_DTYPES = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
}
DTYPE_NAMES = {dtype: name for name, dtype in _DTYPES.items()}
