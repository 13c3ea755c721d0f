"""The stability table: raw, averaged and ensembled checkpoints side by side.

For every run and task, over the final ``last`` fraction of training:

- ``raw``: the evaluated checkpoints themselves (window 1);
- ``average``: checkpoints averaged over a trailing window of n and evaluated
  (found as store runs whose series was averaged from this run's series);
- ``ensemble-vote`` / ``ensemble-mean-logprob`` / ``ensemble-mean-prob``: the
  trailing window's stored predictions combined, no forward pass (generation
  tasks only vote).

A task whose raw score stays near chance is flagged ``near_chance`` and left out
of averages over tasks: a model flipping between "always yes" and "always no"
is maximally unstable without having learned anything.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from statistics import fmean

import numpy as np

from ckptlens.analysis import metrics
from ckptlens.analysis.ensemble import ensemble_choices, ensemble_texts, normalise_text
from ckptlens.analysis.matrix import TaskMatrix, task_matrices
from ckptlens.checkpoints import last_fraction
from ckptlens.store import Store

DEFAULT_WINDOWS = (2, 4, 8)
ENSEMBLE_RULES = ("vote", "mean-logprob")
SUMMARY_FIELDS = ("mean_score", "task_mtv", "example_mtv", "instability_score", "std")


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
    n_examples: int
    mean_score: float
    task_mtv: float
    example_mtv: float | None
    instability_score: float | None
    std: float
    relative_std: float
    monotonicity: float
    flip_fraction: float | None
    forgetting_events: int | None
    chance: float
    near_chance: bool

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class StabilityConfig:
    last: float = 0.2  # fraction of training (by step) the window covers
    windows: tuple[int, ...] = DEFAULT_WINDOWS  # averaging / ensembling window sizes
    rules: tuple[str, ...] = ENSEMBLE_RULES  # multiple-choice ensemble rules


def stability_table(store: Store, config: StabilityConfig = StabilityConfig()) -> list[StabilityRow]:
    """Rows for every base run and task in the store (see the module docstring)."""
    matrices = {(m.run, m.task): m for m in task_matrices(store.read())}
    base_runs, averaged = averaged_runs(store)
    rows = []
    for (run, task), matrix in sorted(matrices.items()):
        if run not in base_runs:
            continue
        window = last_fraction(matrix.steps, config.last)
        task_rows = [_row(matrix.select_steps(window), "raw", 1, matrix)]
        task_rows += _ensemble_rows(matrix, window, config)
        for avg_run, n in _averages_of(averaged, run, config.windows):
            if (avg_run, task) in matrices:
                avg = matrices[(avg_run, task)]
                steps = [s for s in avg.steps if s >= window[0]]
                if len(steps) >= 2:
                    task_rows.append(_row(avg.select_steps(steps), "average", n, matrix))
        near = task_rows[0].near_chance
        rows += [_with_flag(r, near) for r in task_rows]
    return rows


def summarise(rows: list[StabilityRow]) -> list[dict]:
    """Mean over tasks (near-chance tasks left out) per run, method and window."""
    groups: dict[tuple, list[StabilityRow]] = {}
    for row in rows:
        if not row.near_chance:
            groups.setdefault((row.run, row.method, row.window), []).append(row)
    summary = []
    for (run, method, window), group in groups.items():
        entry = {"run": run, "method": method, "window": window, "n_tasks": len(group)}
        for field in SUMMARY_FIELDS:
            values = [getattr(r, field) for r in group if getattr(r, field) is not None]
            entry[field] = fmean(values) if values else None
        summary.append(entry)
    return summary


def near_chance(mean_score: float, chance: float, n_examples: int) -> bool:
    """Within 5 points or 3 binomial standard errors of chance, whichever is wider."""
    se = math.sqrt(max(chance * (1 - chance), 1e-12) / max(n_examples, 1))
    return mean_score < chance + max(0.05, 3 * se)


def _row(matrix: TaskMatrix, method: str, window: int, base: TaskMatrix) -> StabilityRow:
    outputs = matrix.pred if matrix.kind == "multiple_choice" else _normalised(matrix.outputs)
    return _metrics_row(matrix.score, outputs, matrix.steps, method, window, base)


def _ensemble_rows(matrix: TaskMatrix, window: list[int], config: StabilityConfig) -> list[StabilityRow]:
    rules = config.rules if matrix.kind == "multiple_choice" and matrix.logliks.shape[2] else ()
    if matrix.kind == "generation":
        rules = ("vote",)
    rows = []
    for n in config.windows:
        ends = matrix.steps[n - 1 :]
        keep = np.isin(ends, window)
        if keep.sum() < 2:
            continue
        for rule in rules:
            if matrix.kind == "multiple_choice":
                outputs = ensemble_choices(matrix.logliks, n, rule)[:, keep]
                score = (outputs == matrix.gold[:, None]).astype(float)
            else:
                outputs = ensemble_texts(matrix.outputs, n)[:, keep]
                score = (outputs == _normalised(matrix.targets)[:, None]).astype(float)
            rows.append(_metrics_row(score, outputs, ends[keep], f"ensemble-{rule}", n, matrix))
    return rows


def _metrics_row(score, outputs, steps, method: str, window: int, base: TaskMatrix) -> StabilityRow:
    trajectory = score.mean(axis=0)
    chance = _chance(base)
    mean_score = float(trajectory.mean())
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
    )


def _chance(matrix: TaskMatrix) -> float:
    if matrix.kind != "multiple_choice" or matrix.logliks.shape[2] == 0:
        return 0.0
    n_choices = np.isfinite(matrix.logliks[0]).sum(axis=1)
    return float(np.mean(1.0 / np.maximum(n_choices, 1)))


def _normalised(texts: np.ndarray) -> np.ndarray:
    return np.vectorize(normalise_text, otypes=[object])(texts) if texts.size else texts


def _with_flag(row: StabilityRow, flag: bool) -> StabilityRow:
    return row if row.near_chance == flag else StabilityRow(**{**asdict(row), "near_chance": flag})


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


def _averages_of(averaged: dict[tuple[str, int], str], run: str, windows) -> list[tuple[str, int]]:
    return [(averaged[(run, n)], n) for n in windows if (run, n) in averaged]
