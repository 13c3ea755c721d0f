"""The stability table: raw, averaged and ensembled checkpoints side by side.

For every run and task, over the final ``last`` fraction of training:

- ``raw``: the evaluated checkpoints themselves (window 1);
- ``average``: checkpoints averaged over a trailing window of n and evaluated
  (found as store runs whose series was averaged from this run's series);
- ``ensemble-vote`` / ``-mean-logprob`` / ``-mean-prob`` / ``-confidence``: the
  trailing window's stored predictions combined, no forward pass (generation
  tasks only vote);
- ``adaptive-<method>``: the method with its window chosen per task, trading
  stability against lag, on other examples than those scored (``analysis.adaptive``);
  ``window`` is the window chosen on all examples.

``stability_sweep`` also returns the adaptive choices' criteria and the failure
flags of ``analysis.failures`` (integration lagging a rising curve, an ensemble
below all its members).

Runs imported without per-example samples get task-level rows only (raw,
``metric`` of the results file), with example-level fields null.

A task whose raw score stays near chance (``tasks.chance``) is flagged ``near_chance``
and left out of averages over tasks, its ``note`` saying why: a model flipping between
"always yes" and "always no" is maximally unstable without having learned anything.

Rows of one task cover the same checkpoints: every method is compared over the span
all of them cover (``integration.shared_span``), and ``note`` says so when that span is
shorter than the final window. A store that gives no row at all is an error naming
what to run, never an empty table.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field, replace
from statistics import fmean

import numpy as np

from ckptlens.analysis import metrics
from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX, AdaptiveConfig, WindowCriterion, adaptive_matrix
from ckptlens.analysis.benchmarks import benchmark_chance, example_count, task_category
from ckptlens.analysis.bootstrap import bootstrap_cis, resample_weights
from ckptlens.analysis.failures import EnsembleFlag, LagFlag, ensemble_flags, lag_flags
from ckptlens.analysis.imported import imported_scores
from ckptlens.analysis.integration import ENSEMBLE_PREFIX, MethodMatrix, method_matrices, raw_matrix
from ckptlens.analysis.matrix import Matrices, TaskMatrix, loaded_matrix, store_matrices
from ckptlens.analysis.score_kind import score_kind
from ckptlens.analysis.spans import Span, span_steps, steps_in_span
from ckptlens.checkpoints import last_fraction
from ckptlens.errors import CkptlensError
from ckptlens.store import Store
from ckptlens.tasks.chance import chance_note, near_chance

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
    # why the row is left out of means over tasks (near chance, with the numbers), or what span it covers
    note: str | None = None
    phase: int | None = None  # 1 … K with --phases K (``analysis.stability_phases``); None for one span
    score_kind: str | None = None  # "0/1" or "continuous" (``analysis.score_kind``)
    # False for a loss (lm-eval's perplexities, bits per byte): its scale is not a score's, so it stays out of
    # means over tasks; its example-level MTV is over each document's log-likelihood per weight
    is_score: bool = True

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


@dataclass(frozen=True)
class StabilityConfig:
    last: float = 0.2  # fraction of training (by step) the window covers
    windows: tuple[int, ...] = DEFAULT_WINDOWS  # averaging / ensembling window sizes (1 is raw)
    rules: tuple[str, ...] = ENSEMBLE_RULES  # multiple-choice ensemble rules
    metric: str | None = None  # per-example metric (None: each task's first); imports without samples: acc
    bootstrap: int = 1000  # resamples of examples for confidence intervals; 0 disables them
    categories: dict[str, str] | None = None  # user overrides {task regex: category}
    adaptive: AdaptiveConfig | None = AdaptiveConfig()  # adaptive-window rows; None leaves them out
    span: Span | None = None  # the span of training measured (``analysis.spans``); None: the final ``last``

    def __post_init__(self) -> None:
        if self.bootstrap < 0:
            raise CkptlensError(f"--bootstrap takes a number of resamples, or 0 for no intervals; got {self.bootstrap}")


@dataclass(frozen=True)
class Sweep:
    """Everything one pass over the store's records gives: rows, adaptive choices, failure flags."""

    rows: list[StabilityRow]
    choices: list[WindowCriterion] = field(default_factory=list)
    lag_flags: list[LagFlag] = field(default_factory=list)
    ensemble_flags: list[EnsembleFlag] = field(default_factory=list)

    def __add__(self, other: Sweep) -> Sweep:
        return Sweep(self.rows + other.rows, self.choices + other.choices, self.lag_flags + other.lag_flags,
                     self.ensemble_flags + other.ensemble_flags)


def stability_table(store: Store, config: StabilityConfig = StabilityConfig()) -> list[StabilityRow]:
    """Rows for every base run and task in the store (see the module docstring)."""
    return stability_sweep(store, config).rows


def stability_sweep(
    store: Store, config: StabilityConfig = StabilityConfig(), loaded: Matrices | None = None
) -> Sweep:
    """The stability rows with the adaptive windows' criteria and the failure flags (``analysis.failures``).

    ``loaded``: every matrix of the store, when the caller read it once already (``read_matrices``).
    """
    base_runs, averaged = averaged_runs(store)
    sweep, with_records = Sweep([]), set()
    matrices = (store_matrices(store, sorted(base_runs), config.categories, config.metric) if loaded is None
                else [m for key, m in sorted(loaded.items()) if key[0] in base_runs])
    for matrix in matrices:
        averages = {n: loaded_matrix(store, averaged[(matrix.run, n)], matrix.task, config.categories, loaded,
                                     config.metric)
                    for n in config.windows if (matrix.run, n) in averaged}
        sweep += _task_sweep(matrix, {n: m for n, m in averages.items() if m is not None}, config)
        with_records.add(matrix.run)
    one_of_phases = config.span is not None and config.span.phase is not None  # checked over all phases
    if with_records and not one_of_phases:
        check_windows(sweep.rows, config)
    sweep += Sweep(_aggregate_rows(store, base_runs - with_records, config))
    if not sweep.rows and not one_of_phases:
        raise CkptlensError(_nothing_to_show(store, base_runs, config))
    return sweep


def _nothing_to_show(store: Store, base_runs: set[str], config: StabilityConfig) -> str:
    """Why a store gives no stability row, and what to run: one line."""
    root = store.root
    if not store.runs():
        if any((p / "config.json").is_file() for p in root.iterdir() if p.is_dir()):
            return (f"{root} is a checkpoint series, not a store: run `ckptlens eval {root} --tasks TASKS --store "
                    f"store`, then `ckptlens stability --store store`")
        return (f"{root} holds no records: run `ckptlens eval SERIES --tasks TASKS --store {root}` or "
                f"`ckptlens import lm-eval OUT --store {root}`")
    if not base_runs:
        sources = sorted({str(info.averaged_from) for info in store.run_infos()})
        return (f"{root} holds only averaged runs ({', '.join(store.runs())}): evaluate the series they were "
                f"averaged from into it too, `ckptlens eval {sources[0]} --tasks TASKS --store {root}`")
    return (f"{root}: no scored task in runs {', '.join(sorted(base_runs))} (perplexity tasks only, or imports "
            f"without metric {config.metric!r}); evaluate a multiple-choice or generation task, or pick --metric")


def check_windows(rows: list[StabilityRow], config: StabilityConfig) -> None:
    """Refuse windows that give no row at all: a table of raw rows alone would pass for an answer.

    A window that fits some runs but not others only warns, naming it.
    """
    wanted = sorted({n for n in config.windows if n > 1})
    found = {r.window for r in rows if r.method != "raw" and not r.method.startswith(ADAPTIVE_PREFIX)}
    missing = [n for n in wanted if n not in found]
    if wanted and missing == wanted:
        raise CkptlensError(
            f"--windows {','.join(map(str, wanted))}: no run has a full window of that many checkpoints ending in "
            f"{_span_name(config)}; use smaller windows or evaluate more checkpoints"
        )
    if missing:
        warnings.warn(f"--windows {','.join(map(str, missing))}: no run has that many checkpoints; "
                      "those windows are left out", stacklevel=3)


def _span_name(config: StabilityConfig) -> str:
    if config.span is None:
        return f"the final {config.last:.0%} of training"
    return f"the span {config.span.label} of training" if config.span.phase is None else "any phase of training"


def measured_steps(steps, config: StabilityConfig) -> list[int]:
    """The steps the stability rows are computed over: the final ``last`` fraction, or ``config.span``."""
    return last_fraction(steps, config.last) if config.span is None else steps_in_span(steps, config.span)


def summarise(rows: list[StabilityRow], by: tuple[str, ...] = ("run", "method", "window")) -> list[dict]:
    """Unweighted mean over tasks per group (e.g. by category too), comparable across methods.

    Near-chance tasks are left out, and so are tasks that lack a method the run has elsewhere (a
    generation task has no mean-logprob ensemble): every method's mean is over the same tasks. Adaptive
    methods choose their window per task, so their means are over tasks whatever the window (window None).
    """
    learned = [_window_per_task(r) for r in rows if not r.near_chance and r.is_score]
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
        for column in SUMMARY_FIELDS:
            values = [getattr(r, column) for r in group if getattr(r, column) is not None]
            entry[column] = fmean(values) if values else None
        summary.append(entry)
    return summary


def _window_per_task(row: StabilityRow) -> StabilityRow:
    return replace(row, window=None) if row.method.startswith(ADAPTIVE_PREFIX) else row


def averaged_runs(store: Store) -> tuple[set[str], dict[tuple[str, int], str]]:
    """The base runs, and (base run, window) -> averaged run (``Store.base_runs``, ``Store.averaged_runs``)."""
    return set(store.base_runs()), store.averaged_runs()


def _task_sweep(matrix: TaskMatrix, averages: dict[int, TaskMatrix], config: StabilityConfig) -> Sweep:
    if _too_short_phase(matrix.run, matrix.task, matrix.steps, config):
        return Sweep([])
    window = measured_steps(matrix.steps, config)
    weights = resample_weights(matrix.n_examples, config.bootstrap) if config.bootstrap else None
    found = method_matrices(matrix, averages, window, config.windows, config.rules)
    rows = [_metrics_row(m, matrix, weights) for m in found]
    choices = []
    for candidates in _families(found) if config.adaptive else []:
        adaptive = adaptive_matrix(matrix.run, matrix.task, raw_matrix(matrix), candidates, config.adaptive)
        if adaptive is not None:
            rows.append(_metrics_row(adaptive[0], matrix, weights))
            choices += adaptive[1]
    near = rows[0].near_chance
    lags, ensembles = _failure_flags(matrix, found, noise=rows[0].std)
    rows = [replace(r, note=_joined(rows[0].note, _span_note(window, found[0].steps))) for r in rows]
    return Sweep(_marked(rows, near), choices, _marked(lags, near), _marked(ensembles, near))


def _too_short_phase(run: str, task: str, steps, config: StabilityConfig) -> bool:
    """A phase of ``--phases`` with fewer than 2 checkpoints of a run is left out with a warning, not an error."""
    if config.span is None or config.span.phase is None or len(span_steps(steps, config.span)) >= 2:
        return False
    warnings.warn(f"{run}/{task}: fewer than 2 checkpoints in phase {config.span.phase} ({config.span.label}); "
                  "left out", stacklevel=4)
    return True


def _span_note(window: list[int], shared: np.ndarray) -> str | None:
    """Said when the methods' shared span (``integration.shared_span``) is shorter than the final window."""
    if int(shared[0]) == window[0] and int(shared[-1]) == window[-1]:
        return None
    return (f"every method compared over steps {shared[0]}-{shared[-1]} ({len(shared)} checkpoints), the span all "
            f"windows cover (final window {window[0]}-{window[-1]}, {len(window)} checkpoints)")


def _joined(*notes: str | None) -> str | None:
    return "; ".join(n for n in notes if n) or None


def _marked(items: list, near: bool) -> list:
    """``items`` with the task's near-chance mark (set by its raw row)."""
    return [replace(item, near_chance=near) for item in items]


def _families(found: list[MethodMatrix]) -> list[list[MethodMatrix]]:
    """Per integration method: raw, then its windows that cover every step of the scored window."""
    raw = found[0]
    families: dict[str, list[MethodMatrix]] = {}
    for m in found[1:]:
        if np.array_equal(m.steps, raw.steps):
            families.setdefault(m.method, [raw]).append(m)
    return list(families.values())


def _failure_flags(matrix: TaskMatrix, found: list[MethodMatrix], noise: float):
    """Lag flags of every integrated method, and the steps where an ensemble scores below all its members."""
    sign = 1.0 if matrix.higher_is_better else -1.0  # a lower-is-better score (perplexity) lags from below
    curve = sign * matrix.curve
    found = [replace(m, aggregated=sign * m.curve) for m in found]
    lags = [f for m in found[1:] for f in lag_flags(matrix.run, matrix.task, matrix.steps, curve, m, noise)]
    ensembles = [f for m in found if m.method.startswith(ENSEMBLE_PREFIX)
                 for f in ensemble_flags(matrix.run, matrix.task, matrix.steps, curve, m)]
    return lags, ensembles


def _metrics_row(m: MethodMatrix, base: TaskMatrix, weights) -> StabilityRow:
    score, outputs, steps = m.score, m.outputs, m.steps
    trajectory = m.curve
    chance = base.chance
    mean_score = float(trajectory.mean())
    mean_of_examples = base.info is None or base.info.aggregation in (None, "mean")  # what the intervals are of
    cis = bootstrap_cis(score, outputs, weights) if weights is not None and mean_of_examples else {}
    return StabilityRow(
        run=base.run,
        task=base.task,
        category=base.category,
        method=m.method,
        window=m.window,
        n_checkpoints=len(steps),
        first_step=int(steps[0]),
        last_step=int(steps[-1]),
        n_examples=score.shape[0],
        mean_score=mean_score,
        task_mtv=metrics.task_mtv(trajectory),
        example_mtv=metrics.example_mtv(score),
        instability_score=None if base.kind == "perplexity" else metrics.instability_score(outputs),  # no answers
        std=metrics.score_std(trajectory),
        relative_std=metrics.relative_std(trajectory),
        monotonicity=metrics.monotonicity(trajectory),
        flip_fraction=metrics.flip_fraction(score) if base.is_score else None,  # correct/wrong: scores only
        forgetting_events=metrics.forgetting_events(score) if base.is_score else None,
        chance=chance,
        near_chance=near_chance(mean_score, chance, score.shape[0]),
        note=chance_note(mean_score, chance, score.shape[0], "records"),
        score_kind=score_kind(base.metric if base.kind == "generation" else "acc"),
        is_score=base.is_score,
        **{f"{name}_{end}": cis[name][i] for name in cis for i, end in enumerate(("lo", "hi"))},
    )


def _aggregate_rows(store: Store, runs: set[str], config: StabilityConfig) -> list[StabilityRow]:
    """Task-level rows for runs imported without per-example samples (``analysis.imported``)."""
    rows = []
    for imported in imported_scores(store, sorted(runs), config.metric) if runs else []:
        if _too_short_phase(imported.run, imported.task, imported.steps, config):
            continue
        window = measured_steps(imported.steps, config)
        trajectory = imported.scores[np.isin(imported.steps, window)]
        size = example_count(imported.task, imported.sizes_at(window))
        rows.append(_trajectory_row(imported.run, imported.task, window, trajectory, size, config))
    return rows


def _trajectory_row(run: str, task: str, steps: list[int], trajectory: np.ndarray, size, config) -> StabilityRow:
    chance = benchmark_chance(task)
    mean_score = float(trajectory.mean())
    n_examples, basis = size
    return StabilityRow(
        run=run, task=task, category=task_category(task, None, config.categories), method="raw", window=1,
        n_checkpoints=len(steps), first_step=steps[0], last_step=steps[-1], n_examples=None,
        mean_score=mean_score, task_mtv=metrics.task_mtv(trajectory), example_mtv=None, instability_score=None,
        std=metrics.score_std(trajectory), relative_std=metrics.relative_std(trajectory),
        monotonicity=metrics.monotonicity(trajectory), flip_fraction=None, forgetting_events=None,
        chance=chance, near_chance=near_chance(mean_score, chance, n_examples),
        note=chance_note(mean_score, chance, n_examples, basis), score_kind=score_kind(config.metric or "acc"),
    )

