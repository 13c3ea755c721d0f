"""One score curve per (run, task), from per-example records or imported task-level results.

The capability analyses compare curves across tasks and model sizes; this is
where both sources become the same thing: a task score by step, with tokens
seen and the fraction of training for alignment.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow.compute as pc

from ckptlens.analysis.benchmarks import benchmark_chance, example_count, task_category
from ckptlens.analysis.imported import ImportedScores, imported_scores
from ckptlens.analysis.matrix import TaskMatrix, store_matrices
from ckptlens.importers.identity import nominal_params
from ckptlens.store import Store

ALIGNMENTS = ("step", "tokens", "fraction")


@dataclass(frozen=True)
class Curve:
    run: str
    task: str
    category: str
    steps: np.ndarray  # (m,) increasing
    tokens: np.ndarray  # (m,) float, NaN where unknown
    scores: np.ndarray  # (m,)
    chance: float | None = None  # ``tasks.chance.chance_level`` of its options; None when unknown
    n_examples: int | None = None  # examples behind each score, when known

    def x(self, align: str) -> np.ndarray:
        """The curve's x axis: training step, tokens seen, or fraction of the run's last step."""
        if align == "tokens":
            return self.tokens
        if align == "fraction":
            return self.steps / max(self.steps[-1], 1)
        return self.steps.astype(float)


def task_curves(store: Store, metric: str | None = None, categories: dict[str, str] | None = None) -> list[Curve]:
    """Curves of every base run and task; records where a task has them (their per-example ``metric``, None: the
    task's first), else the imported ``metric`` (acc when None).

    A record curve is its score matrix's (``matrix.TaskMatrix.curve``): the examples every checkpoint scores, so
    it is the curve the stability table measures. Each carries its chance level and example count: from the
    matrix, else the benchmark table and the import's ``n_samples`` rows (``benchmarks.example_count``).
    """
    runs = store.base_runs()
    curves = {(i.run, i.task): _imported_curve(i, categories) for i in imported_scores(store, runs, metric)}
    curves.update({(m.run, m.task): _record_curve(m) for m in store_matrices(store, runs, categories, metric)})
    return [curves[key] for key in sorted(curves)]


def _record_curve(matrix: TaskMatrix) -> Curve:
    return Curve(run=matrix.run, task=matrix.task, category=matrix.category, steps=matrix.steps.astype(np.int64),
                 tokens=matrix.tokens, scores=matrix.curve, chance=matrix.chance, n_examples=matrix.n_examples)


def _imported_curve(imported: ImportedScores, categories: dict[str, str] | None) -> Curve:
    n_examples, _ = example_count(imported.task, imported.sizes_at(imported.steps))
    return Curve(run=imported.run, task=imported.task, category=task_category(imported.task, None, categories),
                 steps=imported.steps, tokens=imported.tokens, scores=imported.scores,
                 chance=benchmark_chance(imported.task), n_examples=n_examples)


def run_sizes(store: Store) -> dict[str, int | None]:
    """Parameters of each base run (None when unknown): the run info's (``--size``), else the run's name (``-1.8b``)."""
    return {info.run: info.n_params or nominal_params(info.run) for info in store.run_infos() if info.is_base}


def loss_curves(store: Store) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Per run: (steps, loss, what it is).

    In order of preference: bits per byte of an evaluated text file (a perplexity task), the validation loss
    the pretraining run recorded, log LAMBADA perplexity from imported results.
    """
    losses = _bits_per_byte(store)
    for info in store.run_infos():
        rows = [r for r in info.loss_curve if r.get("val_loss") is not None]
        if rows and info.is_base and info.run not in losses:
            losses[info.run] = (np.array([r["step"] for r in rows]), np.array([r["val_loss"] for r in rows]),
                                "val_loss")
    aggregates = store.read_aggregates()
    ppl = aggregates.filter(pc.and_(pc.equal(aggregates["metric"], "ppl"),
                                    pc.match_substring_regex(aggregates["task"], "^lambada")))
    for run in sorted(set(ppl["run"].to_pylist()) - set(losses)):
        rows = ppl.filter(pc.equal(ppl["run"], run)).sort_by("step")
        losses[run] = (rows["step"].to_numpy(), np.log(rows["value"].to_numpy()), "log LAMBADA perplexity")
    return losses


def _bits_per_byte(store: Store) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    records = store.read(columns=["run", "kind", "step", "nll", "n_bytes"])
    records = records.filter(pc.fill_null(pc.equal(records["kind"], "perplexity"), False))
    if records.num_rows == 0:
        return {}
    sums = records.group_by(["run", "step"]).aggregate([("nll", "sum"), ("n_bytes", "sum")]).sort_by("step")
    losses = {}
    for run in sorted(set(sums["run"].to_pylist())):
        rows = sums.filter(pc.equal(sums["run"], run))
        bits = rows["nll_sum"].to_numpy() / rows["n_bytes_sum"].to_numpy() / np.log(2)
        losses[run] = (rows["step"].to_numpy(), bits, "bits per byte")
    return losses


def imported_curves(store: Store, metric: str | None = None, categories: dict[str, str] | None = None) -> list[Curve]:
    """Curves of the base runs' task-level results imported without samples; no record is read."""
    return [_imported_curve(i, categories) for i in imported_scores(store, store.base_runs(), metric)]


def matrix_curve(matrix: TaskMatrix) -> Curve:
    """The curve of a score matrix already read (the report reads the store once)."""
    return _record_curve(matrix)
