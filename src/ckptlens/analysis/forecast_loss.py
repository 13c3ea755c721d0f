"""Two-step forecast through the task loss (after AI2's model ladder), for runs whose records hold per-choice
log-likelihoods.

Step 1: the gold answer's loss (nats per gold answer, mean over examples) is forecast by the power law
``E + B * x**(-c)`` (the saturating law of ``-loss``, its asymptote ``-E`` at most 0). Step 2: the loss is
mapped to the score by a sigmoid ``floor + (1 - floor) * sigmoid((mu - loss) / s)``, fitted on every run's
checkpoints of the task (linear in the logit of the score above the floor: chance, or the lowest score seen).

>>> losses = np.array([2.0, 1.5, 1.2, 1.0, 0.9]); q = 1 / (1 + np.exp(-(1.4 - losses) / 0.3))
>>> mu, s, sd = fit_loss_to_score(losses, 0.25 + 0.75 * q, floor=0.25)
>>> round(mu, 2), round(s, 2)
(1.4, 0.3)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ckptlens.analysis.forecast_fit import fit_saturating, predict_saturating
from ckptlens.analysis.matrix import MissingMetric, TaskMatrix, store_matrix
from ckptlens.store import Store

CLIP = 0.01  # the score above chance is clipped to [CLIP, 1 - CLIP] before its logit


@dataclass(frozen=True)
class LossCurve:
    steps: np.ndarray  # (m,)
    loss: np.ndarray  # (m,) mean nats of the gold answer
    scores: np.ndarray  # (m,) the task score at the same checkpoints

    def until(self, step: int) -> LossCurve:
        keep = self.steps <= step
        return LossCurve(self.steps[keep], self.loss[keep], self.scores[keep])


def gold_loss(logliks: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """Mean over examples of -log p(gold answer) per checkpoint, from (m, E, C) log-likelihoods.

    >>> gold_loss(np.log(np.array([[[0.5, 0.5], [0.25, 0.75]]])), np.array([0, 1])).round(4).tolist()
    [0.4904]
    """
    picked = np.take_along_axis(logliks, gold[None, :, None], axis=2)[:, :, 0]
    return -picked.mean(axis=1)


def loss_curves(store: Store, runs: list[str], metric: str | None = None) -> dict[tuple[str, str], LossCurve]:
    """(run, task) -> gold-loss curve, for multiple-choice tasks whose records hold log-likelihoods."""
    out = {}
    for run in runs:
        for task in store.tasks(run):
            try:
                found = loss_curve(store_matrix(store, run, task, metric=metric))
            except MissingMetric:
                continue
            if found is not None:
                out[(run, task)] = found
    return out


def loss_curve(matrix: TaskMatrix | None) -> LossCurve | None:
    """The gold-loss curve of a multiple-choice matrix with log-likelihoods, else None."""
    if matrix is None or matrix.kind != "multiple_choice" or matrix.logliks.shape[2] == 0 or (matrix.gold < 0).any():
        return None
    loss = gold_loss(matrix.logliks, matrix.gold)
    return LossCurve(matrix.steps, loss, matrix.score.mean(axis=0)) if np.isfinite(loss).all() else None


def fit_loss_to_score(loss, score, floor: float | None) -> tuple[float, float, float]:
    """(mu, s, residual sd of the score) of the sigmoid from loss to score above ``floor`` (module docstring).

    Linear in the logit of the score above the floor, weighted by q(1 - q) (the inverse variance of a logit);
    points within 1% of the floor or the ceiling are left out.
    """
    base = floor or 0.0
    q = (np.asarray(score) - base) / (1 - base)
    inside = (q > CLIP) & (q < 1 - CLIP)  # a point at the floor or the ceiling has no logit
    if inside.sum() < 2:
        return 0.0, float("inf"), float("nan")
    q, x = q[inside], np.asarray(loss)[inside]
    slope, intercept = np.polyfit(x, np.log(q / (1 - q)), 1, w=np.sqrt(q * (1 - q)))
    s = -1 / slope if slope < 0 else np.inf  # logit q = (mu - loss) / s
    mu = intercept * s if np.isfinite(s) else 0.0
    residual = np.asarray(score) - sigmoid_score(np.asarray(loss), mu, s, floor)
    return float(mu), float(s), float(np.sqrt(np.mean(residual**2)))


def sigmoid_score(loss, mu: float, s: float, floor: float | None):
    base = floor or 0.0
    if not np.isfinite(s):
        return np.full_like(np.asarray(loss, dtype=float), np.nan)
    return base + (1 - base) / (1 + np.exp(-(mu - np.asarray(loss, dtype=float)) / s))


def two_step(own: LossCurve, pairs: list[LossCurve], at: int, chance: float | None,
             fit_start: float, min_points: int) -> tuple[float, float, int] | None:
    """(prediction, sd of the method, points) of the two-step forecast; None when it cannot be made."""
    keep = own.steps >= fit_start * own.steps[-1]
    if keep.sum() < min_points:
        return None
    fit = fit_saturating(own.steps[keep].astype(float), -own.loss[keep], None, 1e-3, bounds=(-np.inf, 0.0))
    negative, loss_se = predict_saturating(fit, at)
    loss_at = -negative
    losses = np.concatenate([c.loss for c in pairs])
    scores = np.concatenate([c.scores for c in pairs])
    floor = min(chance or 0.0, float(scores.min()))  # a task scored below chance early sits on its own floor
    mu, s, residual = fit_loss_to_score(losses, scores, floor)
    if not np.isfinite(s):
        return None
    predicted = float(sigmoid_score(loss_at, mu, s, floor))
    slope = abs(float(sigmoid_score(loss_at + 1e-4, mu, s, floor)) - predicted) / 1e-4
    return predicted, float(np.hypot(slope * loss_se, residual)), int(keep.sum())
