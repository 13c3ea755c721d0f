"""Hidden states of task prompts, kept compactly in the store so later analysis needs no model.

Layout: ``STORE/representations/<run>/<task>/<checkpoint>.npz``, one file per (run, task, checkpoint), written
atomically like a records unit (a sharded evaluation writes ``<checkpoint>.shards/00001-of-00004.npz``, read once
every shard is there). A file holds ``step``, ``example_ids`` (E,), ``layers`` (L,), ``mean`` and ``last``
(L, E, d) float16: per layer, each prompt's hidden state mean-pooled over its tokens and its last token's, through
a fixed random Gaussian projection to at most ``dims`` features (seeded, so every checkpoint is projected alike;
states narrower than ``dims`` are kept as they are), and the ``dims`` and ``seed`` used. Layer numbers follow
``output_hidden_states``: 0 is the embeddings, k the output of block k.

``read_states`` stacks a (run, task)'s files in step order and refuses files stored with other layers or another
projection: they would be compared as if alike.

>>> default_layers(12), StateSettings(layers=(3,)).resolve(12)
((6, 12), (3,))
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ckptlens.errors import CkptlensError
from ckptlens.files import TMP_PREFIX, atomic_path, remove
from ckptlens.store.store import Shard, Store, _safe

PROJECTION_DIMS = 256  # features kept per layer at most
PROJECTION_SEED = 0
_SHARD_NAME = re.compile(r"(\d+)-of-(\d+)\.npz")


def default_layers(n_layers: int) -> tuple[int, ...]:
    """The middle and the last block (``output_hidden_states`` numbering)."""
    return tuple(sorted({n_layers // 2, n_layers}))


@dataclass(frozen=True)
class StateSettings:
    """Which hidden states are kept and how they are compressed (``eval --representations``' options)."""

    layers: tuple[int, ...] | None = None  # None: the middle and the last block
    dims: int = PROJECTION_DIMS
    seed: int = PROJECTION_SEED

    def resolve(self, n_layers: int, flag: str = "--layers") -> tuple[int, ...]:
        """The layers to keep on a model of ``n_layers`` blocks; a layer it lacks is an error naming ``flag``."""
        chosen = self.layers or default_layers(n_layers)
        if max(chosen) > n_layers or min(chosen) < 0:
            bad = max(chosen) if max(chosen) > n_layers else min(chosen)
            raise CkptlensError(f"{flag} {bad}: the model has {n_layers} blocks (0 is the embeddings)")
        return tuple(chosen)


def project(states: np.ndarray, dims: int = PROJECTION_DIMS, seed: int = PROJECTION_SEED) -> np.ndarray:
    """float16 states, through a fixed N(0, 1/dims) projection when wider than ``dims`` features."""
    states = np.asarray(states, dtype=np.float32)
    if states.shape[1] <= dims:
        return states.astype(np.float16)
    matrix = np.random.default_rng(seed).normal(0.0, 1.0 / np.sqrt(dims), size=(states.shape[1], dims))
    return (states @ matrix.astype(np.float32)).astype(np.float16)


@dataclass(frozen=True)
class States:
    """One checkpoint's (or, from ``read_states``, a series') stored states: ``mean``/``last`` (L, E, d) float16,
    or (m, L, E, d) with ``steps`` (m,) when read back for a series."""

    steps: np.ndarray
    example_ids: np.ndarray
    layers: np.ndarray
    mean: np.ndarray
    last: np.ndarray
    dims: int
    seed: int


def compress(step: int, example_ids, layers, states: dict[int, tuple[np.ndarray, np.ndarray]],
             settings: StateSettings) -> States:
    """One checkpoint's float32 states (per layer: mean-pooled, last token; each (E, hidden)) as stored."""
    mean = np.stack([project(states[k][0], settings.dims, settings.seed) for k in layers])
    last = np.stack([project(states[k][1], settings.dims, settings.seed) for k in layers])
    return States(np.array([step]), np.array(list(example_ids)), np.array(layers), mean, last, settings.dims,
                  settings.seed)  # fmt: skip


def states_folder(store: Store, run: str, task: str) -> Path:
    return Path(store.root) / "representations" / _safe(run) / _safe(task)


def states_path(store: Store, run: str, task: str, checkpoint: str, shard: Shard | None = None) -> Path:
    path = states_folder(store, run, task) / f"{_safe(checkpoint)}.npz"
    return path if shard is None else path.with_suffix(".shards") / shard.file_name.replace(".parquet", ".npz")


def write_states(store: Store, run: str, task: str, checkpoint: str, states: States, shard: Shard | None = None
                 ) -> Path:  # fmt: skip
    """Write one checkpoint's states (or one shard's) atomically; a whole unit's replaces shards left of it."""
    path = states_path(store, run, task, checkpoint, shard)
    with atomic_path(path) as partial, partial.open("wb") as handle:
        np.savez_compressed(handle, step=states.steps[0], example_ids=states.example_ids, layers=states.layers,
                            mean=states.mean, last=states.last, dims=states.dims, seed=states.seed)  # fmt: skip
    if shard is None:
        remove(path.with_suffix(".shards"))
    return path


def remove_states(store: Store, run: str, task: str, checkpoint: str) -> None:
    """Remove a checkpoint's states (and shards of them) with its records unit (``--reevaluate``)."""
    path = states_path(store, run, task, checkpoint)
    remove(path)
    remove(path.with_suffix(".shards"))


def has_states(store: Store, run: str, task: str) -> bool:
    return bool(_checkpoint_files(states_folder(store, run, task)))


def runs_and_tasks(store: Store) -> list[tuple[str, str]]:
    """Every (run, task) with stored states."""
    root = Path(store.root) / "representations"
    return [(r.name, t.name) for r in sorted(root.glob("*")) if r.is_dir() for t in sorted(r.glob("*"))
            if _checkpoint_files(t)]  # fmt: skip


def read_states(store: Store, run: str, task: str) -> States:
    """A (run, task)'s states at every stored checkpoint, in step order, on the examples every checkpoint has."""
    parts = [_read_checkpoint(files) for files in _checkpoint_files(states_folder(store, run, task))]
    if not parts:
        raise CkptlensError(f"no representations of {run}/{task} in {store.root}: run `ckptlens representations` "
                            "or `ckptlens eval --representations`")
    kinds = {(tuple(p.layers.tolist()), p.dims, p.seed) for p in parts}
    if len(kinds) > 1:
        described = "; ".join(f"layers {list(k[0])}, dims {k[1]}, seed {k[2]}" for k in sorted(kinds))
        raise CkptlensError(f"the representations of {run}/{task} were stored with different settings ({described}); "
                            "record them again with one setting")
    parts.sort(key=lambda p: int(p.steps[0]))
    common = set.intersection(*(set(p.example_ids) for p in parts))
    ids = [i for i in parts[0].example_ids if i in common]
    rows = [[{e: k for k, e in enumerate(p.example_ids)}[i] for i in ids] for p in parts]
    return States(np.array([int(p.steps[0]) for p in parts]), np.array(ids), parts[0].layers,
                  np.stack([p.mean[:, r] for p, r in zip(parts, rows, strict=True)]),
                  np.stack([p.last[:, r] for p, r in zip(parts, rows, strict=True)]), parts[0].dims, parts[0].seed)


def _checkpoint_files(folder: Path) -> list[list[Path]]:
    """Per checkpoint, its file, or its shards' files once all are there."""
    found = [[f] for f in sorted(folder.glob("*.npz")) if not f.name.startswith(TMP_PREFIX)]
    for shards in sorted(folder.glob("*.shards")):
        if (shards.parent / (shards.stem + ".npz")).is_file():
            continue
        files = sorted(f for f in shards.glob("*.npz") if _SHARD_NAME.fullmatch(f.name))
        if files and len(files) == int(_SHARD_NAME.fullmatch(files[0].name).group(2)):
            found.append(files)
    return found


def _read_checkpoint(files: list[Path]) -> States:
    loaded = [np.load(f) for f in files]
    first = loaded[0]
    return States(np.array([int(first["step"])]), np.concatenate([d["example_ids"].astype(str) for d in loaded]),
                  first["layers"], np.concatenate([d["mean"] for d in loaded], axis=1),
                  np.concatenate([d["last"] for d in loaded], axis=1), int(first["dims"]), int(first["seed"]))
