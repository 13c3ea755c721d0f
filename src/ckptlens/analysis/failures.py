"""Where integration fails: flags the report shows rather than hides.

Both compare an integrated checkpoint (average or ensemble of the trailing window of n ending at step t) with its
members, the raw checkpoints t-n+1 ... t of the base run (by position, as in ``analysis.linearity``), at every
step t of the scored window:

- **Lag** (``LagFlag``): the integrated score is below the newest member's raw score by more than the noise,
  while the raw score rose across the members (newest minus oldest) by more than the noise: integration trails a
  fast-rising curve. Without the rise, a shortfall is a raw spike or a barrier between the members (the
  linearity section's subject), not lag. The noise is DESIGN.md's: the relative standard deviation of the raw
  task score over the scored window, in score units (times its mean, i.e. the standard deviation).
- **Ensemble below its members** (``EnsembleFlag``): the ensemble scores strictly below every one of its n
  members, e.g. members biased towards different wrong labels that out-vote the right one where two of them err
  together.

>>> import numpy as np
>>> ens = MethodMatrix("ensemble-vote", 2, np.array([20]), np.array([[0.0], [1.0]]), np.array([[1], [1]]))
>>> [f.step for f in ensemble_flags("run", "task", np.array([10, 20]), np.array([0.6, 0.7]), ens)]
[20]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.integration import MethodMatrix

SCORE_TOLERANCE = 1e-12  # score differences below this are float noise, never a flag


@dataclass(frozen=True)
class LagFlag:
    run: str
    task: str
    method: str
    window: int
    step: int
    raw_score: float  # the newest member's (step t's) raw score
    integrated_score: float
    shortfall: float  # raw_score - integrated_score
    rise: float  # raw score of the newest member minus that of the oldest
    noise: float  # standard deviation of the raw score over the scored window
    near_chance: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class EnsembleFlag:
    run: str
    task: str
    method: str
    window: int
    step: int
    ensemble_score: float
    worst_member_score: float
    best_member_score: float
    near_chance: bool = False

    def to_dict(self) -> dict:
        return asdict(self)


def lag_flags(
    run: str, task: str, base_steps: np.ndarray, base_curve: np.ndarray, integrated: MethodMatrix, noise: float
) -> list[LagFlag]:
    """Steps where ``integrated`` trails the raw curve ``base_curve`` (task score at every ``base_steps``)."""
    flags = []
    for step, score, members in _with_members(base_steps, base_curve, integrated):
        shortfall, rise = members[-1] - score, members[-1] - members[0]
        if shortfall > noise + SCORE_TOLERANCE and rise > noise + SCORE_TOLERANCE:
            flags.append(LagFlag(run, task, integrated.method, integrated.window, step, float(members[-1]),
                                 float(score), float(shortfall), float(rise), float(noise)))
    return flags


def ensemble_flags(
    run: str, task: str, base_steps: np.ndarray, base_curve: np.ndarray, ensemble: MethodMatrix
) -> list[EnsembleFlag]:
    """Steps where ``ensemble`` scores below every member's raw score."""
    return [
        EnsembleFlag(run, task, ensemble.method, ensemble.window, step, float(score), float(members.min()),
                     float(members.max()))
        for step, score, members in _with_members(base_steps, base_curve, ensemble)
        if score < members.min() - SCORE_TOLERANCE
    ]


def _with_members(base_steps: np.ndarray, base_curve: np.ndarray, integrated: MethodMatrix):
    """(step, integrated score, members' raw scores oldest first) at each step with a full window of members."""
    position = {int(s): i for i, s in enumerate(base_steps)}
    n = integrated.window
    for step, score in zip(integrated.steps.tolist(), integrated.curve.tolist()):
        newest = position.get(int(step))
        if newest is not None and newest >= n - 1:
            yield int(step), score, np.asarray(base_curve[newest - n + 1 : newest + 1], dtype=float)
