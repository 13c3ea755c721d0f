"""The one score matrix: records of one (run, task) as example x checkpoint matrices, the shape every metric takes.

Every analysis reads scores through this builder (stability, scores and groups, capability curves,
verdict, select, compare), so on one store they agree. It owns four choices:

- **Which examples count.** Checkpoints are columns ordered by step; examples are rows ordered by id. An
  example counts when it has a record, and a value of the chosen metric, at every checkpoint of the run;
  the others are dropped with a warning saying how many. Comparing a checkpoint with its neighbour on
  different examples would report sampling as instability.
- **The metric.** ``metric`` names a key of the records' ``metrics`` map (lm-eval's ``acc``, ``acc_norm``,
  ``exact_match``, ...); None takes the task's first metric (lm-eval's ``metric_list`` order), or the
  stored ``score`` for records without a metrics map (``chosen_metric``). Task-level imports have no
  order: they default to ``DEFAULT_METRIC`` (``imported_metric``).
- **The predicted option** (``tasks.choice.predicted_option``): for ``acc_norm`` the per-choice
  log-likelihoods are divided by the choices' character lengths, as lm-eval normalises them, so
  predictions, the instability score and the ensembles follow the normalised choice too.
- **The score per step** (``step_scores``, ``TaskMatrix.curve``): the one place per-example values become
  a task score at each checkpoint. For lm-eval tasks it is lm-eval's own aggregation of the metric
  (``tasks.aggregation``: perplexity, weighted_perplexity, bits_per_byte, f1, ...) over the stored values,
  and ``metric`` may be lm-eval's ``metric,filter`` key or the bare metric (the task's first filter).

The prompt of an example must be the same at every checkpoint: a series that
mixes ``ckptlens eval`` with ``ckptlens import lm-eval`` checkpoints lines up
by task and doc_id, and a different ``prompt_hash`` is an error naming both (a 16-digit hash of an older
store is compared on those digits: ``store.same_prompt``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ckptlens.analysis.benchmarks import benchmark_chance, task_category
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, same_prompt
from ckptlens.tasks.aggregation import LOGLIK_AGGREGATIONS, MetricInfo, aggregate, per_document
from ckptlens.tasks.chance import chance_level
from ckptlens.tasks.choice import LENGTH_NORMALISED, length_normalised, predicted_option

DEFAULT_METRIC = "acc"  # what records without a metrics map and task-level imports are scored on unless asked


class MissingMetric(CkptlensError):
    """A task's records have no per-example value of the chosen metric (a whole-store analysis skips the task)."""


class NoSharedExamples(MissingMetric):
    """No example of a task has a scored record at every checkpoint (skipped like a missing metric)."""


def step_scores(score: np.ndarray) -> np.ndarray:
    """The task score at each step from per-example scores (E, m) -> (m,): the mean over the examples scored there.

    The one place a task's score per step is computed: ``TaskMatrix.curve``, the integrated methods' curves,
    groups (a task weighs ``score * examples``), capability curves, the verdict. A matrix from the builder
    has every example scored at every step; NaN (a hand-built matrix) is left out of that step's mean.

    >>> step_scores(np.array([[1.0, 0.0], [0.0, np.nan]])).tolist()
    [0.5, 0.0]
    """
    scored = ~np.isnan(score)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(scored, score, 0.0).sum(axis=0) / scored.sum(axis=0)


@dataclass(frozen=True)
class TaskMatrix:
    run: str
    task: str
    kind: str
    category: str
    steps: np.ndarray  # (m,) int, increasing
    checkpoints: tuple[str, ...]  # (m,)
    example_ids: np.ndarray  # (E,) str
    score: np.ndarray  # (E, m) float in [0, 1]
    pred: np.ndarray  # (E, m) int, -1 where not multiple choice
    gold: np.ndarray  # (E,) int, -1 where not multiple choice
    logliks: np.ndarray  # (m, E, C) float, -inf where an example has fewer than C choices
    outputs: np.ndarray  # (E, m) str: chosen option text or generated text
    targets: np.ndarray  # (E,) str
    metric: str = "exact_match"  # the per-example metric of ``score`` (the chosen one, else the records' first)
    tokens: np.ndarray | None = None  # (m,) float tokens seen at each step, NaN where unknown
    # lm-eval tasks (``tasks.aggregation``): the metric's stored per-document values, as its aggregation takes them
    info: MetricInfo | None = None  # the chosen metric's filter, aggregation and direction
    values: np.ndarray | None = None  # (E, m) the stored numbers (a pair's loglik)
    weights: np.ndarray | None = None  # (E, m) a pair's weight, NaN where none
    items: np.ndarray | None = None  # (E, m) str, an item's JSON (None where none)
    groups: tuple[dict, ...] = ()  # the groups holding the task, outermost first (store.records.GROUP_LEVEL)

    @property
    def n_examples(self) -> int:
        return len(self.example_ids)

    @property
    def curve(self) -> np.ndarray:
        """The task score at each step: lm-eval's aggregation of the metric for lm-eval tasks, else
        ``step_scores`` (the mean over examples)."""
        if self.info is None or self.values is None or self.info.aggregation in (None, "mean"):
            return step_scores(self.score if self.values is None else self.values)
        return np.array([self._aggregate(j) for j in range(len(self.steps))])

    def _aggregate(self, j: int) -> float:
        kept = ~np.isnan(self.values[:, j])
        weights = self.weights[kept, j].tolist() if self.info.weight is not None else None
        items = self.items[kept, j].tolist() if self.info.item is not None else None
        return aggregate(self.info.aggregation, self.values[kept, j].tolist(), weights, items)

    @property
    def higher_is_better(self) -> bool:
        """The direction of the task's score: lm-eval's ``higher_is_better`` (perplexities: False), else True."""
        return self.info is None or self.info.higher_is_better is not False

    @property
    def is_score(self) -> bool:
        """Whether the metric is a score (acc, exact_match), not a loss (perplexity, bits per byte)."""
        return self.info is None or (self.higher_is_better and self.info.weight is None
                                     and self.info.aggregation not in LOGLIK_AGGREGATIONS)

    @property
    def chance(self) -> float | None:
        """``chance_level`` of the stored options (per example), 0 for generation; for multiple choice stored
        without log-likelihoods, the benchmark table's (None when unknown); None for a loss (perplexity)."""
        if not self.is_score:
            return None
        if self.kind != "multiple_choice":
            return 0.0
        if self.logliks.shape[2] == 0:
            return benchmark_chance(self.task)
        return chance_level(np.isfinite(self.logliks[0]).sum(axis=1).tolist())

    def select_steps(self, steps) -> TaskMatrix:
        """The same matrix restricted to the given steps (which must be present)."""
        keep = np.isin(self.steps, np.asarray(list(steps)))
        return replace(
            self,
            steps=self.steps[keep],
            checkpoints=tuple(c for c, k in zip(self.checkpoints, keep) if k),
            score=self.score[:, keep],
            pred=self.pred[:, keep],
            logliks=self.logliks[keep],
            outputs=self.outputs[:, keep],
            tokens=None if self.tokens is None else self.tokens[keep],
            **{name: getattr(self, name)[:, keep] for name in PER_DOCUMENT if getattr(self, name) is not None},
        )

    def on_examples(self, ids: np.ndarray) -> TaskMatrix | None:
        """The same matrix on the examples ``ids`` (another run's, sorted), None when it lacks some of them."""
        keep = np.isin(self.example_ids, ids)
        return self.select_examples(keep) if keep.sum() == len(ids) else None

    def select_examples(self, keep: np.ndarray) -> TaskMatrix:
        """The same matrix restricted to the examples where ``keep`` (E,) is true."""
        return replace(
            self, example_ids=self.example_ids[keep], score=self.score[keep], pred=self.pred[keep],
            gold=self.gold[keep], logliks=self.logliks[:, keep], outputs=self.outputs[keep],
            targets=self.targets[keep],
            **{name: getattr(self, name)[keep] for name in PER_DOCUMENT if getattr(self, name) is not None},
        )


PER_DOCUMENT = ("values", "weights", "items")  # TaskMatrix's (E, m) lm-eval values besides score
Matrices = dict[tuple[str, str], TaskMatrix]  # (run, task) -> matrix


def store_matrices(
    store: Store, runs: list[str] | None = None, categories: dict[str, str] | None = None, metric: str | None = None
):
    """Yield one matrix per scored (run, task) of the store, reading one group of files at a time."""
    for run in store.runs() if runs is None else runs:
        for task in store.tasks(run):
            matrix = _skip_missing(store_matrix, store, run, task, categories, metric)
            if matrix is not None:
                yield matrix


def _skip_missing(build, *args):
    """``build(*args)``, or None with a warning when the task lacks the chosen metric."""
    try:
        return build(*args)
    except MissingMetric as missing:
        warnings.warn(f"{missing}; left out", stacklevel=3)
        return None


def store_matrix(
    store: Store, run: str, task: str, categories: dict[str, str] | None = None, metric: str | None = None
) -> TaskMatrix | None:
    """The matrix of one (run, task), None when it has no scored records (e.g. ckptlens's own perplexity task)."""
    records = _scored(store.read([run], [task]))
    if records.num_rows == 0:
        return None
    return _categorised(_matrix(records, run, task, metric), categories)


def read_matrices(store: Store, categories: dict[str, str] | None = None, metric: str | None = None) -> Matrices:
    """Every scored (run, task) of the store from one read: what the report's analyses share.

    ``store_matrix`` reads one (run, task) at a time, which keeps a command's memory small; a report needs
    every matrix anyway, and reading them once spares it a pass over the store per analysis.
    """
    return {(m.run, m.task): _categorised(m, categories) for m in task_matrices(store.read(), metric)}


def loaded_matrix(
    store: Store, run: str, task: str, categories: dict[str, str] | None, loaded: Matrices | None,
    metric: str | None = None,
) -> TaskMatrix | None:
    """The matrix of (run, task) from ``loaded`` when the caller read the store already (with its metric),
    else from the store."""
    if loaded is not None:
        return loaded.get((run, task))
    return store_matrix(store, run, task, categories, metric)


def _categorised(matrix: TaskMatrix, categories: dict[str, str] | None) -> TaskMatrix:
    return replace(matrix, category=task_category(matrix.task, matrix.category, categories))


def task_matrices(records: pa.Table, metric: str | None = None) -> list[TaskMatrix]:
    """One matrix per scored (run, task) in ``records``; perplexity records are losses, not scores."""
    records = _scored(records)
    if records.num_rows == 0:
        return []
    keys = sorted(set(zip(records["run"].to_pylist(), records["task"].to_pylist())))
    found = [_skip_missing(task_matrix, records, run, task, metric) for run, task in keys]
    return [m for m in found if m is not None]


def _scored(records: pa.Table) -> pa.Table:
    """Records with scores: all but perplexity records, unless an lm-eval task scores them (wikitext's
    word_perplexity has an aggregate; ckptlens's own perplexity task keeps only losses)."""
    if records.num_rows == 0:
        return records
    scored = pc.fill_null(pc.not_equal(records["kind"], "perplexity"), True)
    if "metric_info" in records.column_names:
        scored = pc.or_(scored, pc.is_valid(records["metric_info"]))
    return records.filter(scored)


def task_matrix(records: pa.Table, run: str, task: str, metric: str | None = None) -> TaskMatrix:
    """The matrix of one (run, task) out of a table holding any records."""
    rows = records.filter(pc.and_(pc.equal(records["run"], run), pc.equal(records["task"], task)))
    return _matrix(rows, run, task, metric)


def _matrix(rows: pa.Table, run: str, task: str, metric: str | None = None) -> TaskMatrix:
    rows = _shared_examples(rows, run, task)
    _check_prompts(rows, run, task)
    steps, col = np.unique(rows["step"].to_numpy(), return_inverse=True)
    ids, row = np.unique(np.asarray(rows["example_id"].to_pylist(), dtype=str), return_inverse=True)
    if len(steps) * len(ids) != rows.num_rows:
        raise ValueError(f"{run}/{task}: more than one record per (checkpoint, example)")
    shape = (len(ids), len(steps))
    checkpoints = np.empty(len(steps), dtype=object)
    checkpoints[col] = rows["checkpoint"].to_pylist()
    kind = rows["kind"][0].as_py() or "multiple_choice"
    matrix = TaskMatrix(
        run=run,
        task=task,
        kind=kind,
        category=rows["category"][0].as_py() or "other",
        steps=steps,
        checkpoints=tuple(checkpoints),
        example_ids=ids,
        score=_scatter(shape, row, col, rows["score"].to_numpy(zero_copy_only=False), np.nan),
        pred=_scatter(shape, row, col, _ints(rows["pred"]), -1),
        gold=_per_example(len(ids), row, _ints(rows["gold"]), -1),
        logliks=_logliks(rows["logliks"], shape, row, col),
        outputs=_scatter(shape, row, col, _strings(rows["output"]), ""),
        targets=_per_example(len(ids), row, _strings(rows["target"]), ""),
        metric=chosen_metric(rows, None) or stored_metric(kind),
        tokens=_step_tokens(rows, len(steps), col),
    )
    return _scored_examples(_on_metric(matrix, rows, row, col, metric))


def chosen_metric(rows: pa.Table, metric: str | None) -> str | None:
    """``metric``, or the first key of the records' metrics map (the task's first metric); None without a map."""
    if metric is not None or "metrics" not in rows.column_names:
        return metric
    first = next((m for m in rows["metrics"].to_pylist() if m), None)
    return first[0][0] if first else None


def stored_metric(kind: str) -> str:
    """The metric of the ``score`` of a record without a metrics map: accuracy, or exact match for generation."""
    return "exact_match" if kind == "generation" else DEFAULT_METRIC


def imported_metric(metric: str | None) -> str:
    """The metric read from task-level imports (results files list many, in no order): ``metric`` or acc."""
    return metric or DEFAULT_METRIC


def _on_metric(matrix: TaskMatrix, rows: pa.Table, row, col, metric: str | None) -> TaskMatrix:
    """Scores (and for acc_norm, predictions and log-likelihoods) of the chosen per-example metric.

    A record without a metrics map holds its ``stored_metric`` in ``score``; any other record lacking the
    metric has no value (NaN), and ``_scored_examples`` drops its example. lm-eval records (``metric_info``)
    take ``_on_lm_eval_metric``.
    """
    infos = metric_infos(rows)
    if infos:
        return _on_lm_eval_metric(matrix, rows, row, col, resolve_metric(matrix.run, matrix.task, infos, metric))
    name = chosen_metric(rows, metric)
    if name is None or "metrics" not in rows.column_names:
        return matrix
    stored = stored_metric(matrix.kind)
    scores = rows["score"].to_pylist()
    values = [dict(m).get(name) if m else (s if name == stored else None)
              for m, s in zip(rows["metrics"].to_pylist(), scores, strict=True)]
    if all(v is None for v in values):
        if metric is None or metric == DEFAULT_METRIC:  # no record has it: the stored score is acc / exact match
            return matrix
        raise MissingMetric(f"{matrix.run}/{matrix.task}: no per-example {metric!r} in the records; "
                            "pick a --metric the task has (e.g. acc)")
    score = _scatter(matrix.score.shape, row, col, np.array([np.nan if v is None else v for v in values]), np.nan)
    return _normalised(replace(matrix, score=score, metric=name), rows, row, col, name)


def _normalised(matrix: TaskMatrix, rows: pa.Table, row, col, name: str) -> TaskMatrix:
    if name in LENGTH_NORMALISED and matrix.logliks.shape[2] and "choice_chars" in rows.column_names:
        chars = _logliks(rows["choice_chars"], matrix.score.shape, row, col)
        logliks = length_normalised(matrix.logliks, chars)
        pred = predicted_option(logliks).T  # (E, m)
        matrix = replace(matrix, logliks=logliks, pred=pred, outputs=pred.astype(str).astype(object))
    return matrix


def metric_infos(rows: pa.Table) -> list[MetricInfo]:
    """The lm-eval metrics the records hold (``tasks.aggregation.MetricInfo``), from the first record with them."""
    if "metric_info" not in rows.column_names or rows["metric_info"].null_count == rows.num_rows:
        return []
    first = next(m for m in rows["metric_info"].to_pylist() if m)
    return [MetricInfo(**entry) for entry in first]


def resolve_metric(run: str, task: str, infos: list[MetricInfo], metric: str | None) -> MetricInfo:
    """The metric ``metric`` names: a records key, lm-eval's ``metric,filter``, or a bare metric (its first
    filter); None: the task's first metric. Unknown: an error listing the task's metrics with their filters."""
    if metric is None:
        return infos[0]
    for info in infos:
        if metric in (info.key, info.lm_eval_key):
            return info
    bare = [i for i in infos if i.metric == metric]
    if bare:
        return bare[0]
    raise MissingMetric(f"{run}/{task}: no metric {metric!r}; its metrics: {metric_list(infos)}")


def check_metric_known(store: Store, runs: list[str] | None, metric: str | None) -> None:
    """When a command found no scores: an error naming ``metric`` and each task's metrics if the runs have
    records but no task has that metric (else the caller says the store has no records)."""
    if metric is None:
        return
    records = store.read(runs, columns=["task", "metrics", "metric_info"])
    if records.num_rows:
        raise CkptlensError(f"--metric {metric!r}: no task{' of run ' + ', '.join(runs) if runs else ''} has it; "
                            f"the tasks' metrics: {'; '.join(_metrics_by_task(records))}")


def _metrics_by_task(records: pa.Table) -> list[str]:
    """``task: metric, ...`` for each task, lm-eval's ``metric,filter`` names where the records have them."""
    names: dict[str, list[str]] = {}
    for task, pairs, infos in zip(*(records[c].to_pylist() for c in ("task", "metrics", "metric_info")),
                                  strict=True):
        known = names.setdefault(task, [])
        keys = [f"{i['metric']},{i['filter']}" for i in infos] if infos else [k for k, _ in pairs or ()]
        known.extend(k for k in keys if k not in known)
    return [f"{task}: {', '.join(keys) or 'acc'}" for task, keys in sorted(names.items())]


def metric_list(infos: list[MetricInfo]) -> str:
    """The task's metrics as lm-eval names them, ``metric,filter``."""
    return ", ".join(i.lm_eval_key for i in infos)


def _on_lm_eval_metric(matrix: TaskMatrix, rows: pa.Table, row, col, info: MetricInfo) -> TaskMatrix:
    """Scores of an lm-eval metric: its stored values, weights and items, and each example's own value
    (a pair's loglik per weight)."""
    values, weights, items = [], [], []
    for pairs, entries in zip(rows["metrics"].to_pylist(), rows["metric_info"].to_pylist(), strict=True):
        entry = next((e for e in entries or () if e["key"] == info.key), None)  # None: an imported number
        value = dict(pairs or ()).get(info.key)
        values.append(np.nan if value is None else value)
        weights.append(np.nan if entry is None or entry["weight"] is None else entry["weight"])
        items.append(None if entry is None else entry["item"])
    shape = matrix.score.shape
    values = _scatter(shape, row, col, np.array(values, dtype=float), np.nan)
    weights = _scatter(shape, row, col, np.array(weights, dtype=float), np.nan)
    own = np.vectorize(per_document)(values, np.where(np.isnan(weights), None, weights).astype(object))
    groups = next((tuple(g) for g in rows["groups"].to_pylist() if g), ()) if "groups" in rows.column_names else ()
    matrix = replace(matrix, score=np.asarray(own, dtype=float), metric=info.key, info=info, values=values,
                     weights=weights, items=_scatter(shape, row, col, np.array(items, dtype=object), None),
                     groups=groups)
    return _normalised(matrix, rows, row, col, info.metric)


def _scored_examples(matrix: TaskMatrix) -> TaskMatrix:
    """The examples with a value of the metric at every checkpoint; the others dropped, with a warning."""
    scored = ~np.isnan(matrix.score).any(axis=1)
    if scored.all():
        return matrix
    if not scored.any():
        raise NoSharedExamples(f"{matrix.run}/{matrix.task}: no example has a {matrix.metric!r} value at every "
                               "checkpoint; pick a --metric every record has (e.g. acc)")
    warnings.warn(
        f"{matrix.run}/{matrix.task}: {int((~scored).sum())} of {len(scored)} examples have no {matrix.metric!r} "
        "value at some checkpoints and were dropped; metrics use the examples every checkpoint scores",
        stacklevel=4,
    )
    return matrix.select_examples(scored)


def _check_prompts(rows: pa.Table, run: str, task: str) -> None:
    """One prompt per example across checkpoints (native and imported records mix only when prompts agree)."""
    if "prompt_hash" not in rows.column_names or rows["prompt_hash"].null_count == rows.num_rows:
        return
    seen: dict[str, tuple[str, str]] = {}
    for example, checkpoint, digest in zip(rows["example_id"].to_pylist(), rows["checkpoint"].to_pylist(),
                                           rows["prompt_hash"].to_pylist(), strict=True):
        if digest is None:
            continue
        first = seen.setdefault(example, (checkpoint, digest))
        if len(digest) > len(first[1]) and same_prompt(first[1], digest):
            seen[example] = (checkpoint, digest)  # compare the next ones on every digit known (older: 16)
        elif not same_prompt(first[1], digest):
            raise CkptlensError(
                f"{run}/{task}: example {example} has prompt {first[1]} at {first[0]} but {digest} at {checkpoint}; "
                "the prompts differ (other few-shot seed, num_fewshot or template): evaluate or import them as "
                "separate runs"
            )


def _shared_examples(rows: pa.Table, run: str, task: str) -> pa.Table:
    n_checkpoints = len(pc.unique(rows["step"]))
    counts = pc.value_counts(rows["example_id"])
    ids, n = counts.field("values"), counts.field("counts").to_numpy()
    if (n == n_checkpoints).all():
        return rows
    shared = pc.filter(ids, pa.array(n == n_checkpoints))
    if len(shared) == 0:
        raise NoSharedExamples(f"{run}/{task}: no example was evaluated at every checkpoint ({n_checkpoints}); "
                               "evaluate the missing units again")
    warnings.warn(
        f"{run}/{task}: {len(ids) - len(shared)} of {len(ids)} examples are missing at some checkpoints "
        "and were dropped; metrics use the examples every checkpoint has",
        stacklevel=3,
    )
    return rows.filter(pc.is_in(rows["example_id"], value_set=shared))


def _scatter(shape, row, col, values, fill) -> np.ndarray:
    values = np.asarray(values)
    out = np.full(shape, fill, dtype=values.dtype if values.dtype != object else object)
    out[row, col] = values
    return out


def _per_example(n: int, row, values, fill) -> np.ndarray:
    values = np.asarray(values)
    out = np.full(n, fill, dtype=values.dtype if values.dtype != object else object)
    out[row] = values
    return out


def _step_tokens(rows: pa.Table, n_steps: int, col) -> np.ndarray:
    """(m,) tokens seen at each step (the largest its records give), NaN where unknown."""
    tokens = np.full(n_steps, np.nan)
    if "tokens_seen" in rows.column_names:
        np.fmax.at(tokens, col, pc.fill_null(rows["tokens_seen"].cast(pa.float64()), np.nan).to_numpy())
    return tokens


def _ints(column: pa.ChunkedArray) -> np.ndarray:
    return pc.fill_null(column, -1).to_numpy().astype(np.int64)


def _strings(column: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(column, "").to_pylist(), dtype=object)


def _logliks(column: pa.ChunkedArray, shape, row, col) -> np.ndarray:
    """(m, E, C) array of per-choice log-likelihoods, -inf padded; C = 0 when none are stored."""
    flat = pa.concat_arrays([c.cast(pa.list_(pa.float64())) for c in column.chunks]) if column.num_chunks else None
    if flat is None or flat.null_count == len(flat):
        return np.full((shape[1], shape[0], 0), -np.inf)
    lengths = pc.fill_null(pc.list_value_length(flat), 0).to_numpy()
    out = np.full((shape[1], shape[0], int(lengths.max())), -np.inf)
    values = pc.list_flatten(flat).to_numpy(zero_copy_only=False)
    position = np.arange(len(values)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    out[np.repeat(col, lengths), np.repeat(row, lengths), position] = values
    return out
