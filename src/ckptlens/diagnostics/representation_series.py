"""``ckptlens representations``: hidden states of each task's prompts at every checkpoint of a series, stored
compactly in the store, then compared between neighbouring checkpoints (``diagnostics.representations``).

Stored per (run, task) as ``<store>/representations/<run>/<task>.npz``: ``steps`` (m,), ``example_ids`` (E,),
``layers`` (L,), ``mean`` and ``last`` (m, L, E, d) float16 after the seeded projection, and ``seed`` and
``dims``, so later analysis needs no model. Rows: per neighbouring pair and layer, linear CKA of the mean-pooled
states; per pair, the Spearman correlation of each example's cosine change of its last-layer state with whether
its correctness flips at the same step (when the store holds the run's records of the task).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ckptlens.analysis.matrix import store_matrix
from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.diagnostics.representations import (
    PROJECTION_DIMS,
    PROJECTION_SEED,
    context_states,
    cosine_change,
    default_layers,
    linear_cka,
    project,
)
from ckptlens.errors import CkptlensError
from ckptlens.files import atomic_path
from ckptlens.store import Store
from ckptlens.tasks.task import Task


@dataclass(frozen=True)
class RepresentationRow:
    run: str
    task: str
    step_a: int
    step_b: int
    layer: int
    cka: float  # linear CKA of the mean-pooled states at step_a and step_b
    mean_cosine_change: float  # over examples, 1 − cos of their last-layer states (layer rows: this layer's)
    flip_spearman: float | None  # Spearman(cosine change, correctness flips a -> b); None without records

    def to_dict(self) -> dict:
        return asdict(self)


def stored_path(store: Store, run: str, task: str) -> Path:
    return Path(store.root) / "representations" / run / f"{task}.npz"


def record_series(series: str | Path, tasks: list[Task], store: Store, run: str, layers: tuple[int, ...] | None = None,
                  dims: int = PROJECTION_DIMS, seed: int = PROJECTION_SEED, device: str | None = None) -> list[Path]:
    """Run each checkpoint once per task's prompts; write each task's projected states to the store."""
    checkpoints = discover_series(series)
    found: dict[str, dict] = {t.name: {"mean": [], "last": []} for t in tasks}
    for checkpoint in checkpoints:
        model, tokenizer = load_model(checkpoint.path, device="cpu" if device is None else device)
        chosen = layers or default_layers(model.config.num_hidden_layers)
        if max(chosen) > model.config.num_hidden_layers:
            raise CkptlensError(f"--layers {max(chosen)}: the model has {model.config.num_hidden_layers} blocks "
                                "(0 is the embeddings)")
        for task in tasks:
            states = context_states(model, tokenizer, [e.context for e in task.examples], chosen)
            found[task.name]["mean"].append(np.stack([project(states[k][0], dims, seed) for k in chosen]))
            found[task.name]["last"].append(np.stack([project(states[k][1], dims, seed) for k in chosen]))
    written = []
    for task in tasks:
        path = stored_path(store, run, task.name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as partial, partial.open("wb") as handle:
            np.savez(handle, steps=np.array([c.step for c in checkpoints]), layers=np.array(chosen),
                     example_ids=np.array([e.id for e in task.examples]), mean=np.stack(found[task.name]["mean"]),
                     last=np.stack(found[task.name]["last"]), seed=seed, dims=dims)
        written.append(path)
    return written


def representation_rows(store: Store, run: str, task: str) -> list[RepresentationRow]:
    """CKA per layer for neighbouring checkpoints, and the cosine change's rank correlation with flips."""
    path = stored_path(store, run, task)
    if not path.is_file():
        raise CkptlensError(f"no representations of {run}/{task} in {store.root}: run `ckptlens representations`")
    data = np.load(path)
    steps, layers, ids = data["steps"], data["layers"], data["example_ids"].astype(str)
    flips = _flips(store, run, task, steps, ids)
    rows = []
    for t in range(len(steps) - 1):
        for j, layer in enumerate(layers):
            change = cosine_change(data["last"][t, j], data["last"][t + 1, j])
            rho = None
            if flips is not None and not np.isnan(flips[:, t]).any() and np.ptp(change) > 0 and np.ptp(flips[:, t]) > 0:
                rho = float(spearmanr(change, flips[:, t]).statistic)
            rows.append(RepresentationRow(run, task, int(steps[t]), int(steps[t + 1]), int(layer),
                                          linear_cka(data["mean"][t, j], data["mean"][t + 1, j]),
                                          float(change.mean()), rho))
    return rows


def _flips(store: Store, run: str, task: str, steps, ids) -> np.ndarray | None:
    """(E, m−1) correctness flips in the stored states' example and step order, NaN for a pair whose steps lack
    records; None without records of the task's examples."""
    if run not in store.runs() or task not in store.tasks(run):
        return None
    matrix = store_matrix(store, run, task)
    if matrix is None or not set(ids) <= set(matrix.example_ids):
        return None
    rows = [int(np.nonzero(matrix.example_ids == i)[0][0]) for i in ids]
    known = {int(s): c for c, s in enumerate(matrix.steps)}
    out = np.full((len(ids), len(steps) - 1), np.nan)
    for t, (a, b) in enumerate(zip(steps[:-1], steps[1:])):
        if int(a) in known and int(b) in known:
            pair = matrix.score[rows][:, [known[int(a)], known[int(b)]]]
            out[:, t] = np.abs(pair[:, 1] - pair[:, 0]) > 0
    return out
