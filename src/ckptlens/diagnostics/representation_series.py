"""``ckptlens representations``: hidden states of each task's prompts at every checkpoint of a series, stored
compactly in the store, then compared between neighbouring checkpoints (``diagnostics.representations``).

The states are stored per (run, task, checkpoint) by ``store.representations`` (float16 after the seeded
projection, with their layers, dims and seed), either here (``record_series``: one prompt-only pass per checkpoint)
or by ``ckptlens eval --representations`` from its scoring passes; both keep the same thing, so
``representation_rows`` reads either without a model. Rows: per neighbouring pair and layer, linear CKA of the
mean-pooled states; per pair, the Spearman correlation of each example's cosine change of its last-layer state with
whether its correctness flips at the same step (when the store holds the run's records of the task).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from ckptlens.analysis.matrix import store_matrix
from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.diagnostics.representations import cosine_change, linear_cka
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.context_states import context_tokens, prompt_states
from ckptlens.store import Store
from ckptlens.store.representations import StateSettings, compress, read_states, runs_and_tasks, write_states
from ckptlens.tasks.resolve import resolve_tasks
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


def record_series(series: str | Path, tasks: list[Task], store: Store, run: str,
                  settings: StateSettings = StateSettings(), device: str | None = None) -> None:
    """Run each checkpoint once on each task's prompts; write each (task, checkpoint)'s projected states."""
    for checkpoint in discover_series(series):
        model, tokenizer = load_model(checkpoint.path, device="cpu" if device is None else device)
        layers = settings.resolve(model.config.get_text_config().num_hidden_layers)
        for task in tasks:
            states = prompt_states(model, context_tokens(tokenizer, task), layers)
            write_states(store, run, task.name, checkpoint.name,
                         compress(checkpoint.step, [e.id for e in task.examples], layers, states, settings))


def representations_of(store: Store, series: str | Path | None, tasks: list[str], run: str | None = None,
                       settings: StateSettings = StateSettings()) -> list[RepresentationRow]:
    """``ckptlens representations``: with ``series``, record its states on ``tasks`` (run: the folder's name), then
    compare them; without, compare the states already stored (every run and task unless named)."""
    if series is not None:
        if not tasks:
            raise CkptlensError("name the tasks whose prompts to run: --tasks a,b")
        resolved = [t for t in resolve_tasks(tasks, series) if t.kind != "perplexity"]
        run = run or Path(series).resolve().name
        record_series(series, resolved, store, run, settings)
        pairs = [(run, t.name) for t in resolved]
    else:
        pairs = [(r, t) for r, t in runs_and_tasks(store) if run in (None, r) and (not tasks or t in tasks)]
        if not pairs:
            where = f"{store.root}{f' for run {run!r}' if run else ''}"
            raise CkptlensError(f"no stored representations in {where}: run `ckptlens eval --representations` or "
                                "`ckptlens representations SERIES --tasks ...`")
    return [row for name, task in pairs for row in representation_rows(store, name, task)]


def representation_rows(store: Store, run: str, task: str) -> list[RepresentationRow]:
    """CKA per layer for neighbouring checkpoints, and the cosine change's rank correlation with flips."""
    data = read_states(store, run, task)
    steps, layers, ids = data.steps, data.layers, data.example_ids
    flips = _flips(store, run, task, steps, ids)
    rows = []
    for t in range(len(steps) - 1):
        for j, layer in enumerate(layers):
            change = cosine_change(data.last[t, j], data.last[t + 1, j])
            rho = None
            if flips is not None and not np.isnan(flips[:, t]).any() and np.ptp(change) > 0 and np.ptp(flips[:, t]) > 0:
                rho = float(spearmanr(change, flips[:, t]).statistic)
            rows.append(RepresentationRow(run, task, int(steps[t]), int(steps[t + 1]), int(layer),
                                          linear_cka(data.mean[t, j], data.mean[t + 1, j]),
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
