"""One score curve per (run, task), from per-example records or imported task-level results.

The capability analyses compare curves across tasks and model sizes; this is
where both sources become the same thing: a task score by step, with tokens
seen and the fraction of training for alignment.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ckptlens.analysis.benchmarks import benchmark_chance, example_count, task_category
from ckptlens.analysis.matrix import metric_scores, store_matrix
from ckptlens.importers.identity import nominal_params
from ckptlens.store import SAMPLE_COUNT, Store
from ckptlens.tasks.chance import chance_level

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

    Each carries its chance level and example count: from the records (options per example at the first
    step), else the benchmark table and the import's ``n_samples`` rows (``benchmarks.example_count``).
    """
    curves = {(c.run, c.task): c for c in _aggregate_curves(store, metric or "acc", categories)}
    curves.update({(c.run, c.task): c for c in _record_curves(store, categories, metric)})
    return [curves[k] for k in sorted(curves)]


def _with_record_chance(curve: Curve, store: Store) -> Curve:
    first = store.read([curve.run], [curve.task], columns=["step", "kind", "logliks"])
    first = first.filter(pc.equal(first["step"], int(curve.steps[0])))
    if first["kind"][0].as_py() not in (None, "multiple_choice"):
        return replace(curve, chance=0.0, n_examples=first.num_rows)
    counts = pc.fill_null(pc.list_value_length(first["logliks"]), 0).to_numpy()
    chance = chance_level(counts.tolist()) if counts.all() else benchmark_chance(curve.task)
    return replace(curve, chance=chance, n_examples=first.num_rows)


def _with_benchmark_chance(curve: Curve, counts: dict[tuple[str, str], list[float]]) -> Curve:
    n_examples, _ = example_count(curve.task, counts.get((curve.run, curve.task), []))
    return replace(curve, chance=benchmark_chance(curve.task), n_examples=n_examples)


def run_sizes(store: Store) -> dict[str, int | None]:
    """Parameters of each base run (None when unknown): the run info's (``--size``), else the run's name (``-1.8b``)."""
    infos = [store.run_info(r) for r in store.runs()]
    return {i["run"]: i.get("n_params") or nominal_params(i["run"]) for i in infos if not i.get("averaged_from")}


def loss_curves(store: Store) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """Per run: (steps, loss, what it is).

    In order of preference: bits per byte of an evaluated text file (a perplexity task), the validation loss
    the pretraining run recorded, log LAMBADA perplexity from imported results.
    """
    losses = _bits_per_byte(store)
    for run in store.runs():
        info = store.run_info(run)
        rows = [r for r in info.get("loss_curve", []) if r.get("val_loss") is not None]
        if rows and not info.get("averaged_from") and run not in losses:
            losses[run] = (np.array([r["step"] for r in rows]), np.array([r["val_loss"] for r in rows]), "val_loss")
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


def _record_curves(store: Store, categories, metric: str | None = None) -> list[Curve]:
    records = store.read(columns=["run", "task", "category", "kind", "step", "tokens_seen", "score", "metrics",
                                  "metric_info"])
    records = records.filter(pc.fill_null(pc.not_equal(records["kind"], "perplexity"), True))
    if records.num_rows == 0:
        return []
    records = records.set_column(records.schema.get_field_index("score"), "score", metric_scores(records, metric))
    grouped = records.group_by(["run", "task", "step"]).aggregate(
        [("score", "mean"), ("tokens_seen", "max"), ("category", "max")]
    )
    infos = {r: store.run_info(r) for r in set(grouped["run"].to_pylist())}
    grouped = grouped.filter(pa.array([not infos[r].get("averaged_from") for r in grouped["run"].to_pylist()]))
    curves = _curves(grouped, "score_mean", "tokens_seen_max", "category_max", categories)
    lm_eval = set(zip(*(records.filter(pc.is_valid(records["metric_info"]))[c].to_pylist() for c in ("run", "task"))))
    return [_with_record_chance(_aggregated(c, store, metric) if (c.run, c.task) in lm_eval else c, store)
            for c in curves]


def _aggregated(curve: Curve, store: Store, metric: str | None) -> Curve:
    """An lm-eval task's curve as lm-eval scores it (``TaskMatrix.task_score``: its own aggregation)."""
    matrix = store_matrix(store, curve.run, curve.task, None, metric)
    if matrix is None or not np.array_equal(matrix.steps, curve.steps):
        return curve
    return replace(curve, scores=matrix.task_score)


def _aggregate_curves(store: Store, metric: str, categories) -> list[Curve]:
    table = store.read_aggregates()
    sizes = table.filter(pc.equal(table["metric"], SAMPLE_COUNT))
    counts: dict[tuple[str, str], list[float]] = {}
    for run, task, n in zip(*(sizes[c].to_pylist() for c in ("run", "task", "value"))):
        counts.setdefault((run, task), []).append(n)
    table = table.filter(pc.equal(table["metric"], metric))
    table = table.filter(pc.invert(pc.fill_null(pc.not_equal(table["filter"], "none"), False)))
    if table.num_rows == 0:
        return []
    grouped = table.group_by(["run", "task", "step"]).aggregate([("value", "mean"), ("tokens_seen", "max")])
    return [_with_benchmark_chance(c, counts) for c in _curves(grouped, "value_mean", "tokens_seen_max", None,
                                                               categories)]


def _curves(table: pa.Table, score: str, tokens: str, category: str | None, categories) -> list[Curve]:
    table = table.sort_by([("run", "ascending"), ("task", "ascending"), ("step", "ascending")])
    columns = {name: table[name].to_numpy(zero_copy_only=False) for name in ("run", "task", "step", score)}
    token_values = pc.fill_null(table[tokens].cast(pa.float64()), float("nan")).to_numpy()
    own = table[category].to_pylist() if category else [None] * table.num_rows
    keys = list(zip(columns["run"], columns["task"]))
    curves, start = [], 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start]:
            run, task = keys[start]
            curves.append(Curve(
                run=run, task=task, category=task_category(task, own[start], categories),
                steps=columns["step"][start:end].astype(np.int64), tokens=token_values[start:end],
                scores=columns[score][start:end].astype(float),
            ))
            start = end
    return curves
