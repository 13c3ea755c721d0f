"""The math of forecasting a score curve: a saturating law fitted to one run, and the gain read off sibling sizes.

Pure functions of arrays. ``analysis.forecast`` turns them into forecasts, intervals and backtests.

- ``fit_saturating``: ``y = A - B * u**(-c)``, ``u = x / x_ref``, A bounded (by [chance, 1] for a score). For a fixed
  exponent c the law is linear in (A, B), so c is profiled over a grid and (A, B) solved by weighted least
  squares; a Huber reweighting keeps one noisy checkpoint from bending the curve.
- ``predict_saturating``: the prediction and its standard error by the delta method (the fit's covariance
  from its Jacobian, the noise variance being the larger of the binomial one and the residuals').
- ``ceiling_excess``: a profile of the asymptote at its ceiling: how much worse the law fits with ``A`` pinned
  at 1, in units of the noise variance. Below the chi-square quantile of the interval, the points do not bound
  the asymptote: the curve has not bent yet.
- ``log_curvature_t``: the t statistic of the curvature of the points in log steps. The law is concave there
  (it slows down); points that are not significantly concave (straight, or speeding up as an emergent task
  leaving chance does) have not shown their bend.
- ``ladder_gain``: the gain from the cut to the target step, as a kernel-weighted mean of the siblings'
  gains over the same stretch of training (weights fall with the distance in log model size), with a
  leave-one-sibling-out error as its model uncertainty.

>>> x = np.array([1.0, 2, 3, 4, 5, 6]); y = 0.8 - 0.4 * x ** -0.5
>>> fit = fit_saturating(x, y, chance=0.25, noise_sd=0.01)
>>> round(fit.A, 3), round(fit.c, 2), round(float(fit(1.0)), 3)  # the law's value at x = 1: 0.8 - 0.4
(0.799, 0.5, 0.4)
>>> mean, sd = predict_saturating(fit, 20.0); round(mean, 2)
0.71
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EXPONENTS = np.geomspace(0.05, 3.0, 120)  # grid of the profiled exponent c
HUBER = 2.0  # residuals beyond this many noise standard deviations are down-weighted
SIZE_BANDWIDTH = np.log(4.0)  # kernel width in log parameters: a sibling 4x larger or smaller weighs exp(-1/2)
EXTRAPOLATED_WEIGHT = 0.5  # a sibling that stops before the target step contributes its own fit, at half weight


@dataclass(frozen=True)
class SaturatingFit:
    A: float  # asymptote, in [chance, 1]
    B: float  # distance below the asymptote at u = 1
    c: float  # exponent
    x_ref: float  # x is divided by this (the last fitted x) for numerical scale
    cov: np.ndarray  # (3, 3) covariance of (A, B, c)
    noise_sd: float  # standard deviation of one checkpoint's score around the law

    def __call__(self, x) -> np.ndarray:
        return self.A - self.B * (np.asarray(x, dtype=float) / self.x_ref) ** -self.c


def binomial_sd(p, n: int | None) -> float:
    """Standard deviation of a score measured on ``n`` examples (0 when unknown).

    >>> round(binomial_sd(0.5, 2500), 3)
    0.01
    """
    if not n:
        return 0.0
    p = float(np.clip(p, 0.0, 1.0))
    return float(np.sqrt(max(p * (1 - p), 1e-4) / n))


def fit_saturating(x, y, chance: float | None, noise_sd: float, bounds: tuple[float, float] | None = None
                   ) -> SaturatingFit:
    """The least-squares saturating law through (x, y), robust to single outliers (see the module docstring).

    The asymptote lies in ``bounds``, by default [chance, 1] (a score).
    """
    bounds = bounds or (0.0 if chance is None else chance, 1.0)
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    x_ref = float(x[-1])
    u = x / x_ref
    weights = np.ones_like(y)
    scale = max(noise_sd, 1e-3)
    for _ in range(3):
        A, B, c = _profile(u, y, weights, bounds)
        resid = np.abs(y - (A - B * u**-c)) / scale
        weights = np.where(resid <= HUBER, 1.0, HUBER / np.maximum(resid, 1e-12))
    resid = y - (A - B * u**-c)
    dof = len(y) - 3
    sigma = max(noise_sd, float(np.sqrt(np.sum(weights * resid**2) / dof)) if dof > 0 else 0.0)
    jac = _jacobian(u, B, c)
    cov = sigma**2 * np.linalg.pinv(jac.T @ (weights[:, None] * jac))
    return SaturatingFit(float(A), float(B), float(c), x_ref, cov, sigma)


def _profile(u: np.ndarray, y: np.ndarray, w: np.ndarray, bounds: tuple[float, float]) -> tuple[float, float, float]:
    """(A, B, c) minimising the weighted squared error, over the exponent grid, all grid points at once."""
    basis = u[None, :] ** -EXPONENTS[:, None]  # (G, n)
    sw, swy = w.sum(), (w * y).sum()
    swb, swbb, swby = (w * basis).sum(1), (w * basis**2).sum(1), (w * basis * y).sum(1)
    det = sw * swbb - swb**2
    safe = np.where(np.abs(det) > 1e-15, det, np.inf)
    A = (swbb * swy - swb * swby) / safe
    B = -(sw * swby - swb * swy) / safe  # y = A - B * basis
    A = np.where(np.isfinite(det) & (np.abs(det) > 1e-15), A, swy / sw)
    clipped = np.clip(A, *bounds)
    refit = clipped != A  # asymptote at a bound: B given A
    B = np.where(refit, (w * basis * (clipped[:, None] - y)).sum(1) / np.maximum(swbb, 1e-15), B)
    sse = (w * (y - (clipped[:, None] - B[:, None] * basis)) ** 2).sum(1)
    best = int(np.argmin(sse))
    return float(clipped[best]), float(B[best]), float(EXPONENTS[best])


def ceiling_excess(fit: SaturatingFit, x, y, ceiling: float = 1.0) -> float:
    """(SSE with the asymptote pinned at ``ceiling`` - SSE of ``fit``) / noise variance, both weighted alike.

    The profile statistic of ``A = ceiling``: compared with a chi-square quantile with one degree of freedom, it
    says whether the points rule that asymptote out. A curve still rising straight in log steps does not:

    >>> x = np.arange(1.0, 11); straight = 0.3 + 0.05 * np.log(x); bent = 0.7 - 0.4 * x ** -1.0
    >>> fit_s, fit_b = (fit_saturating(x, y, 0.25, 0.01) for y in (straight, bent))
    >>> round(ceiling_excess(fit_s, x, straight), 1), ceiling_excess(fit_b, x, bent) > 20
    (0.0, True)
    """
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    u = x / fit.x_ref
    scale = max(fit.noise_sd, 1e-3)
    resid = np.abs(y - fit(x)) / scale
    w = np.where(resid <= HUBER, 1.0, HUBER / np.maximum(resid, 1e-12))  # the fit's own Huber weights
    basis = u[None, :] ** -EXPONENTS[:, None]
    B = (w * basis * (ceiling - y)).sum(1) / np.maximum((w * basis**2).sum(1), 1e-15)
    pinned = float((w * (y - (ceiling - B[:, None] * basis)) ** 2).sum(1).min())
    free = float(np.sum(w * (y - fit(x)) ** 2))
    return max(pinned - free, 0.0) / scale**2


def log_curvature_t(x, y, noise_sd: float) -> float:
    """t statistic of the quadratic term of ``y`` against ``log x`` (negative: concave, the curve slowing down).

    The noise is the larger of ``noise_sd`` and the quadratic's residual standard deviation.

    >>> x = np.arange(1.0, 11)
    >>> log_curvature_t(x, 0.7 - 0.4 / x, 0.01) < -5, abs(log_curvature_t(x, 0.3 + 0.05 * np.log(x), 0.01)) < 1e-6
    (True, True)
    """
    logs = np.log(np.asarray(x, dtype=float))
    design = np.stack([np.ones_like(logs), logs, logs**2], axis=1)
    coef, *_ = np.linalg.lstsq(design, np.asarray(y, dtype=float), rcond=None)
    resid = np.asarray(y, dtype=float) - design @ coef
    dof = len(logs) - 3
    sigma = max(noise_sd, float(np.sqrt(resid @ resid / dof)) if dof > 0 else 0.0, 1e-6)
    var = sigma**2 * np.linalg.pinv(design.T @ design)[2, 2]
    return float(coef[2] / np.sqrt(var)) if var > 0 else 0.0


def _jacobian(u: np.ndarray, B: float, c: float) -> np.ndarray:
    """d(A - B u^-c)/d(A, B, c) at each u."""
    power = u**-c
    return np.stack([np.ones_like(u), -power, B * power * np.log(u)], axis=1)


def predict_saturating(fit: SaturatingFit, x: float) -> tuple[float, float]:
    """(prediction, standard error of the fitted law) at ``x``; the noise of a new measurement is not included."""
    u = np.array([x / fit.x_ref])
    grad = _jacobian(u, fit.B, fit.c)[0]
    var = float(grad @ fit.cov @ grad)
    return float(fit(x)[()]), float(np.sqrt(max(var, 0.0)))


def size_weights(target_params: float | None, sibling_params: list[float | None]) -> np.ndarray:
    """Gaussian kernel in log model size (equal weights when a size is unknown).

    >>> size_weights(1e9, [1e9, 4e9, None]).round(3).tolist()
    [1.0, 0.607, 0.0]
    >>> size_weights(None, [1e9, 4e9]).tolist()
    [1.0, 1.0]
    """
    if target_params is None:
        return np.ones(len(sibling_params))
    out = [0.0 if p is None else np.exp(-((np.log(p) - np.log(target_params)) ** 2) / (2 * SIZE_BANDWIDTH**2))
           for p in sibling_params]
    return np.asarray(out, dtype=float)


def ladder_gain(gains: np.ndarray, weights: np.ndarray, sizes: list[float | None]) -> tuple[float, float]:
    """(kernel-weighted mean gain, its model error): the error is the weighted root mean square of each
    sibling's gain predicted from the others with the same kernel (a backtest inside the ladder), so it
    grows when the siblings disagree, and is never below the spread that binomial noise alone explains.

    >>> gain, err = ladder_gain(np.array([0.02, 0.04, 0.06]), np.array([0.5, 1.0, 0.5]), [1e8, 4e8, 1.6e9])
    >>> round(gain, 3), round(err, 3)
    (0.04, 0.017)
    """
    gain = float(np.sum(weights * gains) / np.sum(weights))
    errors, used = [], []
    for k in range(len(gains)):
        others = np.flatnonzero(np.arange(len(gains)) != k)
        w = size_weights(sizes[k], [sizes[j] for j in others]) if sizes[k] else np.ones(len(others))
        if len(others) and w.sum() > 0:
            errors.append(gains[k] - np.sum(w * gains[others]) / w.sum())
            used.append(k)
    if not used or weights[used].sum() == 0:
        return gain, float("nan")
    return gain, float(np.sqrt(np.sum(weights[used] * np.square(errors)) / np.sum(weights[used])))
