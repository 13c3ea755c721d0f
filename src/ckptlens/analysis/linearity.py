"""Linearity gap: does an averaged checkpoint score like the mean of the checkpoints it averages?

Checkpoint averaging is argued to first order: for checkpoints close in
parameter space, ``score(mean θ) ≈ mean score(θ)``, so averaging must smooth
the curve. The gap tests that directly, for every averaged run in a store
(a run whose info has ``averaged_from`` and ``window``, linked to its base run
as in ``stability.averaged_runs``). The averaged checkpoint at step t has
members t, t-1, ..., t-n+1 by position in the base run's steps; at each t:

- ``score_gap``: averaged task score minus the mean of the members' task scores;
- ``gold_loglik_gap``: over examples, the mean of (averaged gold-option
  log-likelihood minus the members' mean gold log-likelihood); multiple choice only.

A gap near zero means the first-order argument holds; a positive gap means the
average is better than its members (a flatter, better basin), a negative one
that the members sit across a barrier. Only examples stored in both runs count.

Each row also carries the window's drift when ``ckptlens drift --store`` has
recorded the base run's: the summed whole-model relative L2 of the window's
n - 1 neighbour steps (how far apart its members are). A summary *holds* when
its mean score gap is within the score noise: the standard deviation of the
base run's task score over the same steps, i.e. the size of the jumps
averaging is meant to remove.

>>> rows = linearity_gaps(Store("store"), last=0.5)
>>> summary = summarise_gaps(rows)[0]
>>> summary.run, summary.task, summary.window, summary.n_steps
('demo', 'capitals', 2, 3)
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from statistics import fmean

import numpy as np
import pyarrow.compute as pc

from ckptlens.analysis.matrix import Matrices, TaskMatrix, loaded_matrix
from ckptlens.analysis.metrics import score_std
from ckptlens.analysis.stability import averaged_runs
from ckptlens.checkpoints import last_fraction
from ckptlens.store import WHOLE_MODEL, Store


@dataclass(frozen=True)
class LinearityRow:
    """The gap of one averaged checkpoint (``averaged_run`` at ``step``) against its ``window`` members."""

    run: str  # the base run the members come from
    averaged_run: str
    task: str
    window: int
    step: int
    averaged_score: float
    member_score: float  # mean of the members' task scores
    score_gap: float  # averaged_score - member_score
    gold_loglik_gap: float | None  # mean over examples; None when not multiple choice or a loglik is missing
    n_examples: int
    score_noise: float  # std of the base run's task score over the kept steps
    window_drift: float | None = None  # summed relative L2 of the members' neighbour steps; None if not recorded

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class GapSummary:
    """The gaps of one (run, task, window), averaged over its steps: the row a report shows."""

    run: str
    task: str
    window: int
    n_steps: int
    mean_score_gap: float
    mean_abs_score_gap: float  # gaps of both signs would cancel in the mean
    mean_gold_loglik_gap: float | None
    score_noise: float
    mean_window_drift: float | None
    holds: bool  # |mean_score_gap| <= score_noise: the average scores like its members, within the noise

    def to_dict(self) -> dict:
        return asdict(self)


def linearity_gaps(store: Store, last: float | None = None, loaded: Matrices | None = None) -> list[LinearityRow]:
    """Gap rows of every averaged run in ``store``, per task and step; ``last`` keeps the final fraction
    of the base run's steps (the stability window), None keeps every step with a full window of members.
    ``loaded``: every matrix of the store, when the caller read it once already (``read_matrices``)."""
    _, linked = averaged_runs(store)
    rows = []
    for (base_run, window), averaged_run in sorted(linked.items()):
        for task in store.tasks(averaged_run):
            base = loaded_matrix(store, base_run, task, None, loaded)
            averaged = loaded_matrix(store, averaged_run, task, None, loaded)
            if base is None or averaged is None:
                continue
            kept = last_fraction(base.steps, last) if last is not None else base.steps.tolist()
            noise = score_std(base.select_steps(kept).curve)
            drift = step_drift(store, base_run)
            rows += [_with_drift(r, drift, base) for r in window_gaps(base, averaged, window, set(kept), noise)]
    return rows


def step_drift(store: Store, run: str) -> dict[int, float]:
    """Whole-model relative L2 from the previous checkpoint, by step, as ``ckptlens drift --store`` recorded it."""
    table = store.read_drift(run)
    if table is None:
        return {}
    rows = table.filter(pc.equal(table["module"], WHOLE_MODEL)).to_pylist()
    return {r["step_b"]: r["relative_l2"] for r in rows}


def window_gaps(
    base: TaskMatrix, averaged: TaskMatrix, window: int, steps: set[int], noise: float = math.nan
) -> list[LinearityRow]:
    """The gap at each step of ``averaged`` that is in ``steps`` and has ``window`` members in ``base``."""
    _, in_base, in_averaged = np.intersect1d(base.example_ids, averaged.example_ids, return_indices=True)
    position = {int(step): i for i, step in enumerate(base.steps)}
    rows = []
    for column, step in enumerate(averaged.steps.tolist()):
        newest = position.get(step)
        if newest is None or newest < window - 1 or step not in steps:
            continue
        members = np.arange(newest - window + 1, newest + 1)
        averaged_score = float(averaged.score[in_averaged, column].mean())
        member_score = float(base.score[np.ix_(in_base, members)].mean())
        gap = _gold_loglik_gap(gold_logliks(averaged, [column], in_averaged), gold_logliks(base, members, in_base))
        rows.append(LinearityRow(
            base.run, averaged.run, base.task, window, step, averaged_score, member_score,
            averaged_score - member_score, gap, len(in_base), noise,
        ))
    return rows


def _with_drift(row: LinearityRow, drift: dict[int, float], base: TaskMatrix) -> LinearityRow:
    """``row`` with the drift summed over its window's neighbour steps, when every one was recorded."""
    steps = base.steps.tolist()
    newest = steps.index(row.step)
    members = steps[newest - row.window + 2 : newest + 1]  # each member but the oldest, whose step it moved in
    if not drift or any(s not in drift for s in members):
        return row
    return replace(row, window_drift=sum(drift[s] for s in members))


def gold_logliks(matrix: TaskMatrix, columns, examples: np.ndarray) -> np.ndarray | None:
    """(len(columns), E) log-likelihoods of each example's gold option; None outside multiple choice."""
    gold = matrix.gold[examples]
    if len(gold) == 0 or (gold < 0).any():
        return None
    return matrix.logliks[np.ix_(np.asarray(columns), examples)][:, np.arange(len(examples)), gold]


def summarise_gaps(rows: list[LinearityRow]) -> list[GapSummary]:
    """One summary per (run, task, window), in that order."""
    groups: dict[tuple[str, str, int], list[LinearityRow]] = defaultdict(list)
    for row in rows:
        groups[(row.run, row.task, row.window)].append(row)
    summaries = []
    for (run, task, window), group in sorted(groups.items()):
        gaps = [r.score_gap for r in group]
        loglik_gaps = [r.gold_loglik_gap for r in group]
        loglik = None if None in loglik_gaps else fmean(loglik_gaps)
        drifts = [r.window_drift for r in group]
        drift = None if None in drifts else fmean(drifts)
        noise = group[0].score_noise
        summaries.append(GapSummary(
            run, task, window, len(group), fmean(gaps), fmean(abs(g) for g in gaps), loglik, noise, drift,
            abs(fmean(gaps)) <= noise,
        ))
    return summaries


def _gold_loglik_gap(averaged: np.ndarray | None, members: np.ndarray | None) -> float | None:
    if averaged is None or members is None:
        return None
    gap = float((averaged[0] - members.mean(axis=0)).mean())
    return gap if math.isfinite(gap) else None
