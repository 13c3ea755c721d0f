"""How one capability develops along training: phases of its curve and when it reaches its gains.

Pure functions of a curve (x = fraction of training, y = score). The curve is
smoothed first (a centred moving average over ``SMOOTH`` checkpoints), so one
noisy checkpoint does not make a phase of its own.

>>> import numpy as np
>>> x = np.linspace(0, 1, 11); y = np.minimum(x, 0.5)  # rises to half-way, then flat
>>> phases(x, y)[:2], phases(x, y)[-1]
(['rapid rise', 'rapid rise'], 'plateau')
>>> round(milestone(x, y, 0.5), 6)
0.3
"""

from __future__ import annotations

import numpy as np

SMOOTH = 3  # checkpoints per centred moving average
RAPID = 0.05  # score gained per 10% of training to count as a rapid rise
SLOW = 0.01  # ... as a slow rise; a fall of as much is a decline; in between a plateau
PHASES = ("rapid rise", "slow rise", "plateau", "decline")


def smooth(y: np.ndarray, k: int = SMOOTH) -> np.ndarray:
    """Centred moving average over ``k`` points, shrinking at the ends (no padding bias)."""
    y = np.asarray(y, dtype=float)
    half = k // 2
    return np.array([y[max(0, i - half) : i + half + 1].mean() for i in range(len(y))])


def phases(x: np.ndarray, y: np.ndarray) -> list[str]:
    """The phase of each interval between neighbouring checkpoints, from the slope of the smoothed curve."""
    slope = np.diff(smooth(y)) / np.maximum(np.diff(x), 1e-12) / 10  # score per 10% of training
    return [PHASES[0] if s >= RAPID else PHASES[1] if s >= SLOW else PHASES[3] if s <= -SLOW else PHASES[2]
            for s in slope]


def milestone(x: np.ndarray, y: np.ndarray, share: float) -> float | None:
    """First x where the smoothed curve has made ``share`` of its final gain (None without a gain)."""
    s = smooth(y)
    gain = s[-1] - s[0]
    if gain <= 0:
        return None
    reached = np.nonzero(s >= s[0] + share * gain)[0]
    return float(x[reached[0]])


def dominant_phase(x: np.ndarray, y: np.ndarray, start: float, end: float) -> str | None:
    """The phase covering most of the training between fractions ``start`` and ``end``."""
    labels = phases(x, y)
    spans: dict[str, float] = {}
    for (a, b), label in zip(zip(x[:-1], x[1:]), labels):
        overlap = min(b, end) - max(a, start)
        if overlap > 0:
            spans[label] = spans.get(label, 0.0) + overlap
    return max(spans, key=spans.get) if spans else None
