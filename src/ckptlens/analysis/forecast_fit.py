"""The math of forecasting a score curve: a saturating law fitted to one run, and the gain read off sibling sizes.

Pure functions of arrays. ``analysis.forecast`` turns them into forecasts, intervals and backtests.

- ``fit_saturating``: ``y = A - B * u**(-c)``, ``u = x / x_ref``, A bounded (by [chance, 1] for a score). For a fixed
  exponent c the law is linear in (A, B), so c is profiled over a grid and (A, B) solved by weighted least
  squares; a Huber reweighting keeps one noisy checkpoint from bending the curve.
- ``predict_saturating``: the prediction and its standard error by the delta method (the fit's covariance
  from its Jacobian, the noise variance being the larger of the binomial one and the residuals').
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
