"""Adaptive integration: choose the averaging or ensembling window per task, trading stability against lag.

A family is one way of integrating (``average``, ``ensemble-vote``, ...); its candidates are window 1 (the raw
checkpoints) and each window n of the family whose matrix covers every checkpoint of the scored window. Each
candidate is judged on:

- **example MTV** over the scored window (DESIGN.md);
- **lag**: the delay, in checkpoints, of its task-score curve behind the raw one on a rising stretch. The
  stretch is every raw checkpoint the candidate's windows integrate: from n - 1 checkpoints before the first
  scored one to the last. It counts as rising when the least-squares line through the raw task score over it
  rises (slope x span) by more than the noise, the raw score's standard deviation over the scored window; on a
  stretch that does not rise there is nothing to lag behind, and the lag is 0. Otherwise the lag is the shift
  d in [0, n - 1] checkpoints (a trailing window cannot lag by more), on a grid of ``LAG_RESOLUTION``, that
  minimises the mean over scored checkpoints t of (candidate score at t - raw score at t - d)^2, the raw curve
  interpolated linearly between checkpoints; ties go to the smaller shift. A trailing mean of n checkpoints on a
  straight rise lags (n - 1) / 2 checkpoints. In steps: d times the mean step spacing of the scored window.

Rules (``AdaptiveConfig.rule``):

- ``tradeoff``: the window minimising example MTV + lag_weight x lag in checkpoints (ties: the smaller window);
- ``target``: the smallest window whose example MTV is at most ``mtv_target``; if none is, the one with the
  lowest example MTV.

**Never chosen on the data it is scored on.** Examples are split into ``folds`` random folds (seeded); the
examples of each fold are scored with the window chosen on the *other* folds' examples (their example MTV and
their task-score curves). The adaptive matrix therefore covers the same examples and checkpoints as the fixed
windows, but no example helped choose its own window. The window it names is the one chosen on all examples (the
window to use from now on); every candidate's criteria, per fold and on all examples, come back as
``WindowCriterion`` rows.

>>> import numpy as np
>>> raw = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])  # a straight rise; a trailing mean of 4 from the 4th on:
>>> curve_lag(raw, np.array([0.25, 0.35, 0.45]), ends=np.array([3, 4, 5]), window=4, noise=0.05)
1.5
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis import metrics
from ckptlens.analysis.integration import MethodMatrix
from ckptlens.analysis.matrix import step_scores
from ckptlens.errors import CkptlensError

RULES = ("tradeoff", "target")
LAG_RESOLUTION = 0.05  # checkpoints: the grid of shifts the lag is fitted on
ADAPTIVE_PREFIX = "adaptive-"


@dataclass(frozen=True)
class AdaptiveConfig:
    rule: str = "tradeoff"  # "tradeoff" or "target" (see the module docstring)
    lag_weight: float = 0.01  # tradeoff: example MTV one checkpoint of lag is worth
    mtv_target: float = 0.05  # target: example MTV the window must reach
    folds: int = 2  # cross-fitting folds of examples; each is scored with a window chosen on the others
    seed: int = 0  # of the random split into folds

    def __post_init__(self) -> None:
        if self.rule not in RULES:
            raise CkptlensError(f"unknown adaptive rule {self.rule!r}; choose one of {', '.join(RULES)}")
        if self.folds < 2:
            raise CkptlensError(f"adaptive windows need at least 2 folds of examples, got {self.folds}")
        if self.lag_weight < 0 or self.mtv_target < 0:
            raise CkptlensError("--lag-weight and --mtv-target must not be negative")


@dataclass(frozen=True)
class WindowCriterion:
    """One candidate window of one family, judged on one fold's selection examples (all examples: fold None)."""

    run: str
    task: str
    method: str  # the family: average, ensemble-vote, ...
    rule: str
    fold: int | None  # the examples chosen *for*: None = chosen on all examples (the window the row names)
    window: int
    example_mtv: float
    lag_steps: float
    lag_checkpoints: float
    objective: float  # tradeoff: example_mtv + lag_weight * lag_checkpoints; target: example_mtv
    chosen: bool

    def to_dict(self) -> dict:
        return asdict(self)


def curve_lag(raw: np.ndarray, smoothed: np.ndarray, ends: np.ndarray, window: int, noise: float) -> float:
    """Delay in checkpoints of ``smoothed`` (scores at checkpoint indices ``ends``) behind ``raw`` (at every index).

    0 unless the raw score rises by more than ``noise`` over the stretch the windows integrate (module docstring).
    """
    stretch = np.arange(max(ends[0] - window + 1, 0), ends[-1] + 1)
    if len(stretch) < 2 or np.polyfit(stretch, raw[stretch], 1)[0] * (stretch[-1] - stretch[0]) <= noise:
        return 0.0
    shifts = np.arange(0.0, window - 1 + LAG_RESOLUTION / 2, LAG_RESOLUTION)
    index = np.arange(len(raw))
    mismatch = [np.mean((smoothed - np.interp(ends - d, index, raw)) ** 2) for d in shifts]
    return float(shifts[int(np.argmin(mismatch))])


def example_folds(n_examples: int, folds: int, seed: int) -> np.ndarray:
    """(E,) fold of each example: a seeded random split into ``folds`` folds of near-equal size."""
    fold = np.empty(n_examples, dtype=int)
    fold[np.random.default_rng(seed).permutation(n_examples)] = np.arange(n_examples) % folds
    return fold


def adaptive_matrix(
    run: str, task: str, base: MethodMatrix, candidates: list[MethodMatrix], config: AdaptiveConfig = AdaptiveConfig()
) -> tuple[MethodMatrix, list[WindowCriterion]] | None:
    """The cross-fitted adaptive matrix of one family and its criteria; None with fewer examples than folds.

    ``base`` is the raw matrix at every checkpoint of the run (the lag looks before the scored window);
    ``candidates`` are the raw matrix over the scored window first, then the family's windows, on the same steps.
    """
    family = candidates[-1].method
    n_examples = candidates[0].score.shape[0]
    if n_examples < config.folds:
        return None
    fold = example_folds(n_examples, config.folds, config.seed)
    label = (run, task, family, config.rule)
    criteria = _judged(label, None, base, candidates, np.ones(n_examples, dtype=bool), config)
    score, outputs = candidates[0].score.copy(), candidates[0].outputs.copy()
    for k in range(config.folds):
        judged = _judged(label, k, base, candidates, fold != k, config)
        criteria += judged
        picked = next(c for c, j in zip(candidates, judged) if j.chosen)
        score[fold == k], outputs[fold == k] = picked.score[fold == k], picked.outputs[fold == k]
    window = next(c.window for c in criteria if c.fold is None and c.chosen)
    return MethodMatrix(ADAPTIVE_PREFIX + family, window, candidates[0].steps, score, outputs), criteria


def _judged(label: tuple, fold: int | None, base: MethodMatrix, candidates: list[MethodMatrix],
            examples: np.ndarray, config: AdaptiveConfig) -> list[WindowCriterion]:
    """Every candidate's criteria on ``examples``, the chosen one marked."""
    steps = candidates[0].steps
    ends = np.searchsorted(base.steps, steps)
    raw = step_scores(base.score[examples])
    noise = metrics.score_std(raw[ends])
    spacing = (steps[-1] - steps[0]) / (len(steps) - 1)
    measured = []
    for c in candidates:
        mtv = metrics.example_mtv(c.score[examples])
        lag = curve_lag(raw, step_scores(c.score[examples]), ends, c.window, noise)
        objective = mtv + config.lag_weight * lag if config.rule == "tradeoff" else mtv
        measured.append((c.window, mtv, lag * spacing, lag, objective))
    chosen = _choose(measured, config)
    return [WindowCriterion(*label, fold, n, mtv, lag_steps, lag, objective, n == chosen)
            for n, mtv, lag_steps, lag, objective in measured]


def _choose(measured: list[tuple], config: AdaptiveConfig) -> int:
    """The window the rule picks from (window, example MTV, lag steps, lag checkpoints, objective) tuples."""
    if config.rule == "target":
        reaching = [n for n, mtv, *_ in measured if mtv <= config.mtv_target]
        if reaching:
            return min(reaching)
    return min(measured, key=lambda m: (m[4], m[0]))[0]
