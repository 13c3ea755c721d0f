"""Output instability against prediction-probability dynamics: does a small margin predict a flip?

From the stored per-option log-likelihoods of a multiple-choice task (the matrix's, so ``acc_norm`` uses the
length-normalised ones its predictions follow), per example i and checkpoint t:

- **margin** m_i(t) = ll(gold) − max over the other options of ll(option): positive when the example is right;
- **gold probability** p_i(t) = softmax over the example's options of the log-likelihoods, at the gold option;
- **flip** f_i(t) = 1 when the example's correctness changes from t to t + 1 (the changes example MTV counts).

Over the pairs (i, t → t+1) of the scored window, the pairs are cut into deciles of |m_i(t)| and each decile's
flip rate is given with its 95% Wilson interval; the Spearman rank correlation of |m_i(t)| with f_i(t) gets a 95%
bootstrap interval that resamples examples (an example's pairs stay together). Beside each decile, the flip rate of
the window-n ensemble over the same pairs (its output at t combines checkpoints t−n+1 … t): where raw flips and the
ensemble does not, the ensemble stabilised the example, and ``removed_low`` / ``removed_high`` give the share of
raw flips it removes among pairs below and above the median |margin|.

>>> import numpy as np
>>> ll = np.log(np.array([[[0.6, 0.4]], [[0.45, 0.55]]]))  # 2 checkpoints, 1 example, gold 0
>>> margins(ll, np.array([0])).round(3).tolist(), gold_probability(ll, np.array([0])).round(2).tolist()
([[0.405, -0.201]], [[0.6, 0.45]])
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import binomtest, spearmanr

from ckptlens.analysis.ensemble import ensemble_choices
from ckptlens.analysis.matrix import TaskMatrix, store_matrices
from ckptlens.checkpoints import last_fraction
from ckptlens.errors import CkptlensError
from ckptlens.store import Store

N_BINS = 10  # deciles of |margin|
LEVEL = 0.95


@dataclass(frozen=True)
class DynamicsConfig:
    last: float = 0.2  # scored window: final fraction of training (1.0: all of it)
    window: int = 4  # ensemble window n set against raw
    rule: str = "mean-logprob"  # ensemble rule (``analysis.ensemble``)
    bootstrap: int = 1000  # resamples of examples for the correlation's interval
    seed: int = 0


@dataclass(frozen=True)
class MarginBin:
    run: str
    task: str
    bin: int  # 1 = the smallest |margin|
    margin_lo: float
    margin_hi: float
    n_pairs: int
    flips: int
    flip_rate: float
    flip_rate_lo: float
    flip_rate_hi: float
    ensemble_pairs: int  # pairs whose both ends have a full ensemble window
    ensemble_flips: int
    ensemble_flip_rate: float | None
    ensemble_flip_rate_lo: float | None
    ensemble_flip_rate_hi: float | None

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class DynamicsSummary:
    run: str
    task: str
    first_step: int
    last_step: int
    n_examples: int
    n_pairs: int
    flip_rate: float
    spearman: float | None  # rank correlation of |margin| with flipping next (negative: small margins flip)
    spearman_lo: float | None
    spearman_hi: float | None
    window: int
    removed_low: float | None  # share of raw flips the ensemble removes, pairs below the median |margin|
    removed_high: float | None  # ... above it
    raw_flips_low: int  # raw flips with a full ensemble window, below the median |margin|
    raw_flips_high: int
    removed_flips_low: int  # of those, the ones the ensemble does not make
    removed_flips_high: int

    def to_dict(self) -> dict:
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def margins(logliks: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(E, m) gold log-likelihood minus the best other option's, from (m, E, C) log-likelihoods."""
    picked = np.take_along_axis(logliks, gold[None, :, None], axis=2)[:, :, 0]
    others = logliks.copy()
    np.put_along_axis(others, gold[None, :, None], -np.inf, axis=2)
    return (picked - others.max(axis=2)).T


def gold_probability(logliks: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """(E, m) softmax probability of the gold option among the example's options."""
    shifted = logliks - logliks.max(axis=2, keepdims=True)
    probs = np.exp(shifted)
    probs /= probs.sum(axis=2, keepdims=True)
    return np.take_along_axis(probs, gold[None, :, None], axis=2)[:, :, 0].T


def flips(score: np.ndarray) -> np.ndarray:
    """(E, m−1) 1 where an example's correctness changes to the next checkpoint."""
    return (np.abs(np.diff(score, axis=1)) > 0).astype(int)


def wilson(k: int, n: int) -> tuple[float, float]:
    """95% Wilson score interval of k successes in n (scipy's ``binomtest``)."""
    ci = binomtest(k, n).proportion_ci(LEVEL, method="wilson")
    return float(ci.low), float(ci.high)


def margin_dynamics(matrix: TaskMatrix, config: DynamicsConfig = DynamicsConfig()):
    """The flip rate per |margin| decile and the task's summary, over the scored window's pairs."""
    keep = np.isin(matrix.steps, last_fraction(matrix.steps, config.last))
    cols = np.nonzero(keep)[0][:-1]  # t of each pair t -> t+1 inside the window
    margin = np.abs(margins(matrix.logliks, matrix.gold))[:, cols]
    flipped = flips(matrix.score)[:, cols]
    ensemble = _ensemble_flips(matrix, config, cols)
    edges = np.quantile(margin, np.linspace(0, 1, N_BINS + 1))
    which = np.clip(np.searchsorted(edges, margin, side="right") - 1, 0, N_BINS - 1)
    bins = [_bin(matrix, b, edges, which == b, flipped, ensemble) for b in range(N_BINS) if (which == b).any()]
    return bins, _summary(matrix, config, cols, margin, flipped, ensemble)


def unstable_examples(matrix: TaskMatrix, k: int = 6) -> list[int]:
    """Row indices of the k examples whose correctness flips most often over all of training (ties: first)."""
    return np.argsort(-flips(matrix.score).sum(axis=1), kind="stable")[:k].tolist()


def _ensemble_flips(matrix: TaskMatrix, config: DynamicsConfig, cols: np.ndarray) -> np.ndarray:
    """(E, pairs) ensemble flips where both ends of a pair end a full window, −1 elsewhere."""
    out = np.full((matrix.n_examples, len(cols)), -1)
    n = config.window
    if len(matrix.steps) < n + 1:
        return out
    chosen = ensemble_choices(matrix.logliks, n, config.rule)  # (E, m − n + 1), column j ends at checkpoint j+n−1
    right = (chosen == matrix.gold[:, None]).astype(int)
    changed = np.abs(np.diff(right, axis=1))  # column j: window ending at j+n−1 -> j+n
    for p, t in enumerate(cols):
        if t >= n - 1:
            out[:, p] = changed[:, t - n + 1]
    return out


def _bin(matrix: TaskMatrix, b: int, edges, inside, flipped, ensemble) -> MarginBin:
    n, k = int(inside.sum()), int(flipped[inside].sum())
    lo, hi = wilson(k, n)
    covered = inside & (ensemble >= 0)
    en, ek = int(covered.sum()), int(ensemble[covered].sum())
    elo, ehi = wilson(ek, en) if en else (None, None)
    return MarginBin(matrix.run, matrix.task, b + 1, float(edges[b]), float(edges[b + 1]), n, k, k / n, lo, hi,
                     en, ek, ek / en if en else None, elo, ehi)


def _summary(matrix, config, cols, margin, flipped, ensemble) -> DynamicsSummary:
    rho = _spearman(margin.ravel(), flipped.ravel())
    lo, hi = _bootstrap_spearman(margin, flipped, config)
    low = margin <= np.median(margin)
    raw_flip = (flipped == 1) & (ensemble >= 0)
    removed = raw_flip & (ensemble == 0)
    n_low, n_high = int((raw_flip & low).sum()), int((raw_flip & ~low).sum())
    steps = matrix.steps[np.append(cols, cols[-1] + 1)] if len(cols) else matrix.steps
    return DynamicsSummary(
        run=matrix.run, task=matrix.task, first_step=int(steps[0]), last_step=int(steps[-1]),
        n_examples=matrix.n_examples, n_pairs=int(margin.size), flip_rate=float(flipped.mean()),
        spearman=rho, spearman_lo=lo, spearman_hi=hi, window=config.window,
        removed_low=float((removed & low).sum() / n_low) if n_low else None,
        removed_high=float((removed & ~low).sum() / n_high) if n_high else None,
        raw_flips_low=n_low, raw_flips_high=n_high,
        removed_flips_low=int((removed & low).sum()), removed_flips_high=int((removed & ~low).sum()),
    )


def _spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    if np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(spearmanr(x, y).statistic)


def _bootstrap_spearman(margin, flipped, config: DynamicsConfig) -> tuple[float | None, float | None]:
    """Percentile interval of the correlation over resampled examples (each keeps all its pairs)."""
    if not config.bootstrap:
        return None, None
    rng = np.random.default_rng(config.seed)
    draws = rng.integers(0, margin.shape[0], size=(config.bootstrap, margin.shape[0]))
    values = [_spearman(margin[d].ravel(), flipped[d].ravel()) for d in draws]
    values = np.array([v for v in values if v is not None])
    if not len(values):
        return None, None
    tail = (1 - LEVEL) / 2 * 100
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def example_rows(matrix: TaskMatrix) -> list[dict]:
    """Per example and checkpoint: margin, gold probability and correctness (long format)."""
    margin, prob = margins(matrix.logliks, matrix.gold), gold_probability(matrix.logliks, matrix.gold)
    return [{"run": matrix.run, "task": matrix.task, "example_id": str(e), "step": int(s),
             "margin": float(margin[i, t]), "gold_probability": float(prob[i, t]), "score": float(matrix.score[i, t])}
            for i, e in enumerate(matrix.example_ids) for t, s in enumerate(matrix.steps)]


def dynamics_matrices(store: Store, runs: list[str] | None = None, tasks: list[str] | None = None) -> list[TaskMatrix]:
    """The store's matrices ``dynamics`` measures (``with_logliks``): every base run, or ``runs``, and ``tasks``.

    A run or task the store does not hold is an error naming it, not a claim that it lacks log-likelihoods.
    """
    present = store.runs()
    unknown = sorted(set(runs or ()) - set(present))
    if unknown:
        raise CkptlensError(f"--run {', '.join(unknown)}: not in the store; it has {', '.join(present)}")
    runs = runs or store.base_runs()
    held = sorted({t for r in runs for t in store.tasks(r)})
    missing = sorted(set(tasks or ()) - set(held))
    if missing:
        raise CkptlensError(f"--task {', '.join(missing)}: no per-example records of it in run(s) {', '.join(runs)}"
                            + (f"; they hold {', '.join(held)}" if held else ""))
    matrices = [m for m in store_matrices(store, runs) if tasks is None or m.task in tasks]
    return with_logliks(matrices, runs, tasks)


def with_logliks(matrices: list[TaskMatrix], runs: list[str], tasks: list[str] | None = None) -> list[TaskMatrix]:
    """The multiple-choice matrices that hold log-likelihoods; an error naming the runs that hold none.

    Task-level imports (lm-eval results without --log_samples) and generation tasks have no options to compare.
    """
    found = [m for m in matrices if m.kind == "multiple_choice" and m.logliks.shape[2] > 1]
    lacking = sorted(set(runs) - {m.run for m in found})
    of = f"task(s) {', '.join(tasks)} of " if tasks else ""
    if not found:
        raise CkptlensError(
            f"dynamics needs per-option log-likelihoods of multiple-choice tasks; {of}run(s) {', '.join(lacking)} "
            "hold none (task-level imports or generation only): evaluate with `ckptlens eval` or import lm-eval "
            "--log_samples files")
    if lacking:
        warnings.warn(f"{of}run(s) {', '.join(lacking)} hold no per-option log-likelihoods; left out", stacklevel=2)
    return found
