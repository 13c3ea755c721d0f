"""Robust checkpoint selection: pick by a smoothed trajectory, and check the pick on held-out examples.

Picking the checkpoint with the best raw score over-fits the noise of the
examples it was scored on. Each rule scores the candidate checkpoints (those in
the final window of training) and picks the best:

- ``raw``: the checkpoint's own score;
- ``trailing-mean``: the mean raw score of the n checkpoints ending there;
- ``ensemble-vote``: the score of the n-checkpoint ensemble ending there;
- ``average``: the score of the n-checkpoint weight average ending there (when evaluated).

The split-half check repeats: split the examples in two random halves, pick
with each rule on one half, and score the *raw checkpoint picked* on the other.
A rule that wins there picks checkpoints that are better, not luckier. A run's
pick uses the mean over its tasks that learned (near-chance tasks left out).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.ensemble import ensemble_choices
from ckptlens.analysis.matrix import Matrices, TaskMatrix, check_metric_known, step_scores, task_matrices
from ckptlens.analysis.stability import averaged_runs
from ckptlens.checkpoints import last_fraction
from ckptlens.errors import CkptlensError
from ckptlens.store import Store
from ckptlens.tasks.chance import near_chance

ALL_TASKS = "(learned tasks)"


@dataclass(frozen=True)
class SelectConfig:
    last: float = 0.2  # candidates: checkpoints in this final fraction of training
    window: int = 4  # checkpoints per trailing mean, ensemble or average
    splits: int = 200  # random halves for the held-out check
    seed: int = 0
    metric: str | None = None  # per-example metric (None: each task's first, e.g. lm-eval's acc)

    def __post_init__(self) -> None:
        if self.splits < 1:
            raise CkptlensError(f"--splits must be at least 1 random half, got {self.splits}")
        if self.window < 1:
            raise CkptlensError(f"--window must be at least 1 checkpoint, got {self.window}")


@dataclass(frozen=True)
class Selection:
    run: str
    task: str  # a task, or ALL_TASKS for the run's pick over its learned tasks
    rule: str
    window: int
    selected_step: int  # pick on all examples
    selected_score: float  # raw score of the picked checkpoint on all examples
    held_out_score: float  # mean over splits of the picked checkpoint's raw score on the other half
    win_rate: float  # fraction of splits where this rule's pick scores higher on held-out than raw's pick
    loss_rate: float
    mean_gain: float  # mean held-out difference to raw's pick

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class _Candidates:
    """One task's raw correctness and each rule's criterion at the candidate checkpoints."""

    steps: np.ndarray  # (K,)
    raw: np.ndarray  # (E, K)
    criteria: dict[str, np.ndarray]  # rule -> (E, K)


def select_checkpoints(
    store: Store, config: SelectConfig = SelectConfig(), run: str | None = None, loaded: Matrices | None = None
) -> list[Selection]:
    """Selections per task and for each run as a whole, with the split-half check.

    ``loaded``: every matrix of the store with ``config.metric``, when the caller read it once already
    (``read_matrices``).
    """
    if loaded is None:
        loaded = {(m.run, m.task): m for m in task_matrices(store.read(), config.metric)}
    matrices = loaded
    base_runs, averaged = averaged_runs(store)
    runs = sorted({r for r, _ in matrices if r in base_runs and run in (None, r)})
    if not runs:
        check_metric_known(store, None if run is None else [run], config.metric)
        raise CkptlensError(f"no per-example records of {run or 'any run'} to select from; evaluate or import samples")
    rng = np.random.default_rng(config.seed)
    selections = []
    for base in runs:
        candidates = {}
        for (r, task), matrix in sorted(matrices.items()):
            if r == base:
                avg = matrices.get((averaged.get((base, config.window)), task))
                candidates[task] = _candidates(matrix, avg, config)
        learned = {t: c for t, c in candidates.items() if c is not None}
        for task, cand in learned.items():
            selections += _selections(base, task, [cand], config, rng)
        if learned:
            selections += _selections(base, ALL_TASKS, list(learned.values()), config, rng)
    return selections


def nothing_to_select(config: SelectConfig) -> CkptlensError:
    """The error a command raises when ``select_checkpoints`` found no task to select on."""
    return CkptlensError(
        f"nothing to select: every task is near chance or has fewer than 2 checkpoints in the final "
        f"{config.last:.0%} with {config.window - 1} before them; see `ckptlens stability` (column note)")


def _candidates(matrix: TaskMatrix, avg: TaskMatrix | None, config: SelectConfig) -> _Candidates | None:
    """None for a task near chance, or without enough checkpoints for the window."""
    window = set(last_fraction(matrix.steps, config.last))
    n = config.window
    ends = [t for t in range(n - 1, len(matrix.steps)) if matrix.steps[t] in window]
    if len(ends) < 2 or near_chance(float(matrix.curve[ends].mean()), matrix.chance, matrix.n_examples):
        return None
    raw = matrix.score[:, ends]
    trailing = np.stack([matrix.score[:, t - n + 1 : t + 1].mean(axis=1) for t in ends], axis=1)
    criteria = {"raw": raw, "trailing-mean": trailing}
    if matrix.kind == "multiple_choice" and matrix.logliks.shape[2]:
        criteria["ensemble-vote"] = (ensemble_choices(matrix.logliks, n, "vote", ends) == matrix.gold[:, None]) * 1.0
    steps = matrix.steps[ends]
    same = None if avg is None else avg.on_examples(matrix.example_ids)
    if same is not None and np.isin(steps, same.steps).all():
        criteria["average"] = same.select_steps(steps).score
    return _Candidates(steps, raw, criteria)


def _selections(run: str, task: str, tasks: list[_Candidates], config: SelectConfig, rng) -> list[Selection]:
    steps = tasks[0].steps
    tasks = [c for c in tasks if np.array_equal(c.steps, steps)]
    rules = [r for r in tasks[0].criteria if all(r in c.criteria for c in tasks)]
    halves = [rng.random((config.splits, c.raw.shape[0])) < 0.5 for c in tasks]
    held_out = sum(_half_means(~h, c.raw) for h, c in zip(halves, tasks)) / len(tasks)  # (splits, K)
    picks = {rule: np.argmax(sum(_half_means(h, c.criteria[rule]) for h, c in zip(halves, tasks)), axis=1)
             for rule in rules}
    rows = np.arange(config.splits)
    raw_held = held_out[rows, picks["raw"]]
    selections = []
    for rule in rules:
        full_pick = int(np.argmax(sum(c.criteria[rule].mean(axis=0) for c in tasks)))
        held = held_out[rows, picks[rule]]
        selections.append(Selection(
            run=run, task=task, rule=rule, window=1 if rule == "raw" else config.window,
            selected_step=int(steps[full_pick]),
            selected_score=float(np.mean([step_scores(c.raw)[full_pick] for c in tasks])),
            held_out_score=float(held.mean()),
            win_rate=float(np.mean(held > raw_held)), loss_rate=float(np.mean(held < raw_held)),
            mean_gain=float(np.mean(held - raw_held)),
        ))
    return selections


def _half_means(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """(splits, K) mean of ``values`` (E, K) over the examples each split's mask keeps."""
    return (mask @ values) / np.maximum(mask.sum(axis=1, keepdims=True), 1)
