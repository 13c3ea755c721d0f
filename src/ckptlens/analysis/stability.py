"""The stability table: raw, averaged and ensembled checkpoints side by side.

For every run and task, over the final ``last`` fraction of training:

- ``raw``: the evaluated checkpoints themselves (window 1);
- ``average``: checkpoints averaged over a trailing window of n and evaluated
  (found as store runs whose series was averaged from this run's series);
- ``ensemble-vote`` / ``-mean-logprob`` / ``-mean-prob`` / ``-confidence``: the
  trailing window's stored predictions combined, no forward pass (generation
  tasks only vote).

Runs imported without per-example samples get task-level rows only (raw,
``metric`` of the results file), with example-level fields null.

A task whose raw score stays near chance is flagged ``near_chance`` and left out
of averages over tasks: a model flipping between "always yes" and "always no"
is maximally unstable without having learned anything.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from statistics import fmean

import numpy as np
import pyarrow.compute as pc

from ckptlens.analysis import metrics
from ckptlens.analysis.benchmarks import benchmark_chance, task_category
from ckptlens.analysis.bootstrap import bootstrap_cis, resample_weights
from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts, normalise_text
from ckptlens.analysis.matrix import TaskMatrix, store_matrices, store_matrix
from ckptlens.checkpoints import last_fraction
from ckptlens.store import Store

DEFAULT_WINDOWS = (2, 4, 8)
ENSEMBLE_RULES = ("vote", "mean-logprob")
SUMMARY_FIELDS = ("mean_score", "task_mtv", "example_mtv", "instability_score", "std")
CI_FIELDS = ("mean_score", "task_mtv", "example_mtv", "instability_score")


@dataclass(frozen=True)
class StabilityRow:
    run: str
    task: str
    category: str
    method: str
    window: int
    n_checkpoints: int
    first_step: int
    last_step: int
    n_examples: int | None  # None for task-level imports
    mean_score: float
    task_mtv: float
    example_mtv: float | None
    instability_score: float | None
    std: float
    relative_std: float
    monotonicity: float
    flip_fraction: float | None
    forgetting_events: int | None
    chance: float | None
    near_chance: bool
    # 95% bootstrap interval over examples (None without examples or with --bootstrap 0)
    mean_score_lo: float | None = None
    mean_score_hi: float | None = None
    task_mtv_lo: float | None = None
    task_mtv_hi: float | None = None
    example_mtv_lo: float | None = None
    example_mtv_hi: float | None = None
    instability_score_lo: float | None = None
    instability_score_hi: float | None = None

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class StabilityConfig:
    last: float = 0.2  # fraction of training (by step) the window covers
    windows: tuple[int, ...] = DEFAULT_WINDOWS  # averaging / ensembling window sizes (1 is raw)
    rules: tuple[str, ...] = ENSEMBLE_RULES  # multiple-choice ensemble rules
    metric: str = "acc"  # task-level metric of imported results without samples
    bootstrap: int = 1000  # resamples of examples for confidence intervals; 0 disables them
    categories: dict[str, str] | None = None  # user overrides {task regex: category}


def stability_table(store: Store, config: StabilityConfig = StabilityConfig()) -> list[StabilityRow]:
    """Rows for every base run and task in the store (see the module docstring)."""
    base_runs, averaged = averaged_runs(store)
    rows, with_records = [], set()
    for matrix in store_matrices(store, sorted(base_runs), config.categories):
        averages = {n: store_matrix(store, averaged[(matrix.run, n)], matrix.task, config.categories)
                    for n in config.windows if (matrix.run, n) in averaged}
        rows += _task_rows(matrix, {n: m for n, m in averages.items() if m is not None}, config)
        with_records.add(matrix.run)
    rows += _aggregate_rows(store, base_runs - with_records, config)
    return rows


def summarise(rows: list[StabilityRow], by: tuple[str, ...] = ("run", "method", "window")) -> list[dict]:
    """Unweighted mean over tasks per group (e.g. by category too), comparable across methods.

    Near-chance tasks are left out, and so are tasks that lack a method the run has elsewhere (a
    generation task has no mean-logprob ensemble): every method's mean is over the same tasks.
    """
    learned = [r for r in rows if not r.near_chance]
    methods_of_run: dict[str, set] = {}
    methods_of_task: dict[tuple[str, str], set] = {}
    for r in learned:
        methods_of_run.setdefault(r.run, set()).add((r.method, r.window))
        methods_of_task.setdefault((r.run, r.task), set()).add((r.method, r.window))
    groups: dict[tuple, list[StabilityRow]] = {}
    for row in learned:
        if methods_of_task[(row.run, row.task)] == methods_of_run[row.run]:
            groups.setdefault(tuple(getattr(row, key) for key in by), []).append(row)
    summary = []
    for key, group in groups.items():
        entry = {**dict(zip(by, key)), "n_tasks": len(group)}
        for field in SUMMARY_FIELDS:
            values = [getattr(r, field) for r in group if getattr(r, field) is not None]
            entry[field] = fmean(values) if values else None
        summary.append(entry)
    return summary


def near_chance(mean_score: float, chance: float | None, n_examples: int | None) -> bool:
    """Within 5 points or 3 binomial standard errors of chance, whichever is wider (False if chance unknown)."""
    if chance is None:
        return False
    se = math.sqrt(max(chance * (1 - chance), 1e-12) / max(n_examples or 1, 1))
    return mean_score < chance + max(0.05, 3 * se)


def averaged_runs(store: Store) -> tuple[set[str], dict[tuple[str, int], str]]:
    """The base runs, and (base run, window) -> averaged run, linked through the series averaged from."""
    infos = [store.run_info(run) for run in store.runs()]
    base_runs = {i["run"] for i in infos if not i.get("averaged_from")}
    series_to_run = {i["series"]: i["run"] for i in infos if i.get("series") and not i.get("averaged_from")}
    linked = {}
    for info in infos:
        base = series_to_run.get(info.get("averaged_from"))
        if base is not None:
            linked[(base, int(info["window"]))] = info["run"]
    return base_runs, linked


def _task_rows(matrix: TaskMatrix, averages: dict[int, TaskMatrix], config: StabilityConfig) -> list[StabilityRow]:
    window = last_fraction(matrix.steps, config.last)
    weights = resample_weights(matrix.n_examples, config.bootstrap) if config.bootstrap else None
    rows = [_row(matrix.select_steps(window), "raw", 1, matrix, weights)]
    rows += _ensemble_rows(matrix, window, config, weights)
    for n, avg in sorted(averages.items()):
        steps = [s for s in avg.steps if s >= window[0]]
        if len(steps) >= 2 and np.array_equal(avg.example_ids, matrix.example_ids):
            rows.append(_row(avg.select_steps(steps), "average", n, matrix, weights))
    return [replace(r, near_chance=rows[0].near_chance) for r in rows]


def _row(matrix: TaskMatrix, method: str, window: int, base: TaskMatrix, weights) -> StabilityRow:
    outputs = matrix.pred if matrix.kind == "multiple_choice" else _normalised(matrix.outputs)
    return _metrics_row(matrix.score, outputs, matrix.steps, method, window, base, weights)


def _ensemble_rows(matrix: TaskMatrix, window: list[int], config: StabilityConfig, weights) -> list[StabilityRow]:
    if matrix.kind == "generation":
        rules = ("vote",)
    else:
        rules = config.rules if matrix.logliks.shape[2] else ()
    rows = []
    for n in (n for n in config.windows if n > 1):
        ends = [t for t in range(n - 1, len(matrix.steps)) if matrix.steps[t] in window]
        if len(ends) < 2:
            continue
        for rule in rules:
            if matrix.kind == "multiple_choice":
                outputs = ensemble_choices(matrix.logliks, n, rule, ends)
                score = (outputs == matrix.gold[:, None]).astype(float)
            else:
                outputs = ensemble_texts(matrix.outputs, n, ends)
                score = (outputs == _normalised(matrix.targets)[:, None]).astype(float)
            rows.append(_metrics_row(score, outputs, matrix.steps[ends], f"ensemble-{rule}", n, matrix, weights))
    return rows


def _metrics_row(score, outputs, steps, method: str, window: int, base: TaskMatrix, weights) -> StabilityRow:
    trajectory = score.mean(axis=0)
    chance = _chance(base)
    mean_score = float(trajectory.mean())
    cis = bootstrap_cis(score, outputs, weights) if weights is not None else {}
    return StabilityRow(
        run=base.run,
        task=base.task,
        category=base.category,
        method=method,
        window=window,
        n_checkpoints=len(steps),
        first_step=int(steps[0]),
        last_step=int(steps[-1]),
        n_examples=score.shape[0],
        mean_score=mean_score,
        task_mtv=metrics.task_mtv(trajectory),
        example_mtv=metrics.example_mtv(score),
        instability_score=metrics.instability_score(outputs),
        std=metrics.score_std(trajectory),
        relative_std=metrics.relative_std(trajectory),
        monotonicity=metrics.monotonicity(trajectory),
        flip_fraction=metrics.flip_fraction(score),
        forgetting_events=metrics.forgetting_events(score),
        chance=chance,
        near_chance=near_chance(mean_score, chance, score.shape[0]),
        **{f"{name}_{end}": cis[name][i] for name in cis for i, end in enumerate(("lo", "hi"))},
    )


def _aggregate_rows(store: Store, runs: set[str], config: StabilityConfig) -> list[StabilityRow]:
    """Task-level rows for runs imported without per-example samples."""
    table = store.read_aggregates(sorted(runs)) if runs else None
    if table is None or table.num_rows == 0:
        return []
    table = table.filter(pc.equal(table["metric"], config.metric))
    table = table.filter(pc.invert(pc.fill_null(pc.not_equal(table["filter"], "none"), False)))
    by_key: dict[tuple[str, str], dict[int, float]] = {}
    for run, task, step, value in zip(*(table[c].to_pylist() for c in ("run", "task", "step", "value"))):
        by_key.setdefault((run, task), {})[step] = value
    rows = []
    for (run, task), values in sorted(by_key.items()):
        window = last_fraction(values, config.last)
        rows.append(_trajectory_row(run, task, window, np.array([values[s] for s in window]), config))
    return rows


def _trajectory_row(run: str, task: str, steps: list[int], trajectory: np.ndarray, config) -> StabilityRow:
    chance = benchmark_chance(task)
    mean_score = float(trajectory.mean())
    return StabilityRow(
        run=run, task=task, category=task_category(task, None, config.categories), method="raw", window=1,
        n_checkpoints=len(steps), first_step=steps[0], last_step=steps[-1], n_examples=None,
        mean_score=mean_score, task_mtv=metrics.task_mtv(trajectory), example_mtv=None, instability_score=None,
        std=metrics.score_std(trajectory), relative_std=metrics.relative_std(trajectory),
        monotonicity=metrics.monotonicity(trajectory), flip_fraction=None, forgetting_events=None,
        chance=chance, near_chance=near_chance(mean_score, chance, None),
    )


def _chance(matrix: TaskMatrix) -> float:
    if matrix.kind != "multiple_choice" or matrix.logliks.shape[2] == 0:
        return 0.0
    n_choices = np.isfinite(matrix.logliks[0]).sum(axis=1)
    return float(np.mean(1.0 / np.maximum(n_choices, 1)))


def _normalised(texts: np.ndarray) -> np.ndarray:
    return np.vectorize(normalise_text, otypes=[object])(texts) if texts.size else texts
