"""Where is this run heading? Forecast each task's score at a later step, with an interval, and backtest it.

A forecast starts from the run's own score curve (``analysis.curves``: per-example records or imported
task-level results) and, when the store holds sibling runs of other sizes, from theirs:

- **ladder** (siblings with the task that reach the run's last step): the run's error rate (1 - score) at its
  last checkpoint shrinks by the factor its siblings' error rates shrank over the same stretch of training,
  weighted by closeness in log model size (``forecast_fit.ladder_gain``): the error curve has a shape shared
  across sizes and a size-dependent scale. Siblings stopping before the target step extend themselves with
  their own saturating fit, at half weight.
- **within-run** (no usable sibling): the saturating law ``A - B * x**(-c)`` fitted to the run's
  checkpoints from ``fit_start`` of its last step on (the warm-up transient left out), at least
  ``min_points`` of them.

Intervals are normal, ``predicted ± z * sd``, with ``sd`` combining the method's uncertainty (the ladder's
leave-one-sibling-out error and the binomial noise of the run's last score; the within-run fit's delta-method
error) and the binomial noise of one measurement at the target step.

Those intervals assume the curve's form is known. When no sibling observed up to the target step vouches for it
(for a task near chance at the cut, only one at least as large as the run does: an emergent task waits for
scale, and a smaller model that stayed at chance says nothing of it), and the run's
own points cannot say where the score saturates (``not_identified``: still near chance, where an emergent task
sits until it jumps, or still rising with no bend in log steps), the interval reaches from the lower of its
low end and the last value's up to 1, the point forecast stays the method's (the curve bending no more than its
points show) but not below the median of the last 3 checkpoints, and the note says "asymptote not identified"
and why.

>>> steps = np.array([1000, 2000, 4000, 8000]); law = lambda s: 0.7 - 0.3 * (s / 1000) ** -0.5
>>> curve = Curve("run", "task", "other", steps, np.full(4, np.nan), law(steps), chance=0.25, n_examples=5000)
>>> row = forecast_curve(curve, 32000, [], {}, ForecastConfig())
>>> row["method"], round(row["predicted"], 3), round(law(32000), 3), row["lo"] < row["predicted"] < row["hi"]
('within-run', 0.647, 0.647, True)
>>> flat = replace(curve, scores=np.array([0.26, 0.25, 0.27, 0.26]))  # at chance: it may still jump
>>> row = forecast_curve(flat, 32000, [], {}, ForecastConfig()); row["hi"], row["note"].split(":")[0]
(1.0, 'asymptote not identified')
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import lru_cache
from statistics import NormalDist

import numpy as np
from scipy.stats import chi2

from ckptlens.analysis.curves import Curve, imported_curves, matrix_curve, run_sizes, task_curves
from ckptlens.analysis.forecast_fit import (
    EXTRAPOLATED_WEIGHT,
    SaturatingFit,
    binomial_sd,
    ceiling_excess,
    fit_saturating,
    ladder_gain,
    log_curvature_t,
    predict_saturating,
    size_weights,
)
from ckptlens.analysis.forecast_loss import LossCurve, loss_curve, loss_curves, two_step
from ckptlens.analysis.matrix import chosen_metric
from ckptlens.errors import CkptlensError
from ckptlens.store import Store
from ckptlens.tasks.chance import near_chance

MIN_ERROR = 0.05  # a sibling with less than 5% of its answers wrong at the cut says little about shedding errors
LEVEL_POINTS = 3  # an unidentified curve is not forecast below the median of its last 3 checkpoints
NOT_IDENTIFIED = "asymptote not identified"  # the note's words when the interval reaches the ceiling
COLUMNS = ("run", "task", "metric", "step", "predicted", "lo", "hi", "method", "n_points", "note")


@dataclass(frozen=True)
class ForecastConfig:
    interval: float = 0.9  # central probability of [lo, hi]
    fit_start: float = 0.05  # within-run fit: checkpoints from this fraction of the run's last step on
    min_points: int = 4  # ... and at least this many of them (a 3-parameter law)
    ladder: str | tuple[str, ...] = "auto"  # "auto": every other sized run; "none"; or the sibling runs' names
    metric: str | None = None  # per-example metric (None: each task's first; acc for imports)


TaskLosses = tuple[LossCurve, list[LossCurve]]  # the run's gold-loss curve, and every run's of the task


class TooFewCheckpoints(CkptlensError):
    """Neither method can forecast: too few checkpoints after the fit's start and no usable sibling."""


def forecast_curve(curve: Curve, at: int, siblings: list[Curve], sizes: dict, config: ForecastConfig,
                   loss: TaskLosses | None = None) -> dict:
    """One forecast row for ``curve`` at step ``at`` (see the module docstring); ``siblings`` are the other
    runs' curves of the same task, ``sizes`` maps runs to parameters (``curves.run_sizes``); ``loss`` the
    run's gold-loss curve and every run's, when records hold log-likelihoods (``forecast_loss``)."""
    notes, observed = [], []
    try:
        predicted, sd, n_points, method, observed = _score_only(curve, at, siblings, sizes, config)
    except TooFewCheckpoints:
        found = None if loss is None else _two_step(curve, at, loss, config)
        if found is None:
            raise
        (predicted, sd, n_points), method = found, "two-step"
        notes.append("two-step: too few checkpoints for a score-only forecast")
    else:
        two = None if loss is None else _two_step(curve, at, loss, config)  # None: its sigmoid has no slope
        if two is not None and _two_step_wins(curve, siblings, sizes, config, loss, method):
            predicted, sd, n_points = two
            notes.append(f"two-step beat {method} on this run's own second half")
            method = "two-step"
    if not curve.n_examples:
        notes.append("example count unknown: no binomial noise in the interval")
    vouched = method == "ladder" and _vouched(curve, observed, sizes)
    unknown = None if vouched else not_identified(curve, config)
    if unknown:
        notes.append(unknown)
        level = float(np.median(curve.scores[-LEVEL_POINTS:]))  # where the curve stands, robust to one checkpoint
        predicted = max(predicted, level)  # a law fitted to an unbent curve can fall below it
    elif near_chance(float(curve.scores[-1]), curve.chance, curve.n_examples):
        notes.append(f"near chance ({curve.chance:.3f}) at the last checkpoint")
    lo, hi = _bounds(curve, predicted, sd, bool(unknown), config)
    return {
        "run": curve.run, "task": curve.task, "metric": config.metric or "acc", "step": int(at),
        "predicted": float(np.clip(predicted, 0, 1)), "lo": lo, "hi": hi, "method": method,
        "n_points": int(n_points), "note": "; ".join(notes) or None,
    }


def _bounds(curve: Curve, predicted: float, sd: float, unknown: bool, config: ForecastConfig) -> tuple[float, float]:
    """``predicted ± z * sd`` with the binomial noise of one measurement at the target step; where the asymptote is
    not identified, from the lower of that and the last value (two measurements' noise below it) up to 1."""
    z = _z(config.interval)
    half = z * float(np.hypot(sd, binomial_sd(predicted, curve.n_examples)))
    lo, hi = predicted - half, predicted + half
    if unknown:
        last = float(curve.scores[-1])
        lo, hi = min(lo, last - z * np.sqrt(2) * binomial_sd(last, curve.n_examples)), 1.0
    return float(np.clip(lo, 0, 1)), float(np.clip(hi, 0, 1))


def not_identified(curve: Curve, config: ForecastConfig) -> str | None:
    """Why the run's own points cannot tell where its score saturates, None when they can.

    Near chance at the last checkpoint, an emergent task looks like one that never learns until it jumps. A
    curve that has not bent, because its points are not significantly concave in log steps (straight, or
    speeding up as a task leaving chance does: ``log_curvature_t``) or because they do not rule out an asymptote
    of 1 (the profile ``ceiling_excess``), may keep rising, or rise faster, after the cut. Both tests use the
    normal / chi-square quantile of the interval.
    """
    step = int(curve.steps[-1])
    if near_chance(float(curve.scores[-1]), curve.chance, curve.n_examples):
        return (f"{NOT_IDENTIFIED}: near chance ({curve.chance:.3f}) at step {step}, and a task at chance can "
                "jump later (emergence)")
    fit = within_fit(curve, config)
    if fit is None:
        return f"{NOT_IDENTIFIED}: too few checkpoints by step {step} to see the curve bend"
    x, y = fit_points(curve, config)
    if log_curvature_t(x, y, binomial_sd(y[-1], curve.n_examples)) > -_z(config.interval):
        return f"{NOT_IDENTIFIED}: the curve has not bent by step {step} (it is not slowing down in log steps)"
    if ceiling_excess(fit, x, y) <= chi2.ppf(config.interval, 1):
        return f"{NOT_IDENTIFIED}: the curve has not bent by step {step} (an asymptote of 1 fits its points as well)"
    return None


def _score_only(curve: Curve, at: int, siblings: list[Curve], sizes: dict, config: ForecastConfig):
    """(prediction, sd, points, method, observed): the ladder where a sibling is usable, else the within-run law;
    ``observed``: the runs of the siblings the ladder used that were observed up to ``at`` (their gain measured,
    not extrapolated)."""
    ladder = _ladder(curve, at, siblings, sizes, config) if siblings else None
    if ladder is not None:
        return (*ladder[:3], "ladder", ladder[3])
    return (*_within(curve, at, config), "within-run", [])


def _vouched(curve: Curve, observed: list[str], sizes: dict) -> bool:
    """Whether siblings observed up to the target step measured the gain the run's forecast rests on: any of
    them, or for a task near chance at the cut, one at least as large as the run (sizes known)."""
    if not near_chance(float(curve.scores[-1]), curve.chance, curve.n_examples):
        return bool(observed)
    own = sizes.get(curve.run)
    return own is not None and any((sizes.get(run) or 0) >= own for run in observed)


def _two_step(curve: Curve, at: int, loss: TaskLosses, config: ForecastConfig):
    own, every = loss
    seen = own.until(int(curve.steps[-1]))  # the run's own points after the cut stay unseen, in both steps
    pairs = [seen, *(c for c in every if c is not own)]
    return two_step(seen, pairs, at, curve.chance, config.fit_start, config.min_points)


def _two_step_wins(curve: Curve, siblings, sizes, config: ForecastConfig, loss: TaskLosses, method: str) -> bool:
    """Whether the two-step forecast of the run's last checkpoint from its first half errs less than ``method``."""
    half = curve.steps <= curve.steps[-1] / 2
    if half.sum() == len(curve.steps):
        return False
    early = replace(curve, steps=curve.steps[half], tokens=curve.tokens[half], scores=curve.scores[half])
    target, truth = int(curve.steps[-1]), float(curve.scores[-1])
    two = _two_step(early, target, loss, config)
    if two is None:
        return False
    try:
        score_only = _score_only(early, target, siblings, sizes, config)[0]
    except TooFewCheckpoints:
        return True
    return abs(two[0] - truth) < abs(score_only - truth)


def fit_points(curve: Curve, config: ForecastConfig) -> tuple[np.ndarray, np.ndarray]:
    """The (steps, scores) the within-run law is fitted to: from ``fit_start`` of the last step on."""
    keep = curve.steps >= config.fit_start * curve.steps[-1]
    return curve.steps[keep].astype(float), curve.scores[keep]


def within_fit(curve: Curve, config: ForecastConfig) -> SaturatingFit | None:
    """The saturating law fitted to the run's points from the fit start on; None with too few points."""
    x, y = fit_points(curve, config)
    if len(x) < config.min_points or x[-1] <= 0:
        return None
    return fit_saturating(x, y, curve.chance, binomial_sd(y[-1], curve.n_examples))


def within_run(curve: Curve, at: int, config: ForecastConfig) -> tuple[float, float, int] | None:
    """(prediction, its standard error, points fitted) of the saturating law; None with too few points."""
    fit = within_fit(curve, config)
    if fit is None:
        return None
    predicted, se = predict_saturating(fit, at)
    return predicted, se, len(fit_points(curve, config)[0])


def _extended(sibling: Curve, at: int, config: ForecastConfig) -> tuple[float, float, int] | None:
    """``within_run`` of a sibling, computed once per (curve, step): every run of a ladder extends the same ones."""
    return _within_cached(tuple(sibling.steps.tolist()), tuple(sibling.scores.tolist()), sibling.chance,
                          sibling.n_examples, at, config)


@lru_cache(maxsize=4096)
def _within_cached(steps: tuple, scores: tuple, chance, n_examples, at: int, config: ForecastConfig):
    curve = Curve("", "", "", np.array(steps), np.full(len(steps), np.nan), np.array(scores), chance, n_examples)
    return within_run(curve, at, config)


def _within(curve: Curve, at: int, config: ForecastConfig) -> tuple[float, float, int]:
    found = within_run(curve, at, config)
    if found is None:
        n = len(fit_points(curve, config)[0])
        raise TooFewCheckpoints(
            f"{curve.run}/{curve.task}: {n} checkpoint(s) from step {int(config.fit_start * curve.steps[-1])} on "
            f"(fit start {config.fit_start:g} of the last step), a forecast needs {config.min_points}, or a "
            "sibling run of another size with the task (--ladder)"
        )
    return found


def _ladder(curve: Curve, at: int, siblings: list[Curve], sizes: dict, config: ForecastConfig):
    """(prediction, sd, siblings used, the runs of those that reach ``at``) from the share of their remaining
    errors the siblings shed, or None when no sibling is usable."""
    cut = int(curve.steps[-1])
    ratios, weights, used, observed = [], [], [], []
    base = size_weights(sizes.get(curve.run), [sizes.get(s.run) for s in siblings])
    for sibling, weight in zip(siblings, base, strict=True):
        if weight <= 0 or sibling.steps[0] > cut or sibling.steps[-1] < cut:
            continue
        error_now = 1 - _at(sibling, cut)
        if sibling.steps[-1] >= at:
            error_then = 1 - _at(sibling, at)
        else:  # stops early: extend it with its own law, at half weight
            extended = _extended(sibling, at, config)
            if extended is None:
                continue
            error_then, weight = 1 - extended[0], weight * EXTRAPOLATED_WEIGHT
        if error_now < MIN_ERROR:
            continue
        ratios.append(error_then / error_now)
        if sibling.steps[-1] >= at:
            observed.append(sibling.run)
        weights.append(weight)
        used.append(sizes.get(sibling.run))
    if not ratios:
        return None
    ratio, model_error = ladder_gain(np.array(ratios), np.array(weights), used)
    if not np.isfinite(model_error):  # one sibling: no spread to read, the change itself is the uncertainty
        model_error = abs(1 - ratio) / 2
    error_now = 1 - float(curve.scores[-1])
    sd = float(np.hypot(error_now * model_error, ratio * binomial_sd(curve.scores[-1], curve.n_examples)))
    return 1 - error_now * ratio, sd, len(ratios), observed


def _at(curve: Curve, step: int) -> float:
    """The curve's score at ``step``, linear in log step between checkpoints."""
    return float(np.interp(np.log1p(step), np.log1p(curve.steps.astype(float)), curve.scores))


def _z(interval: float) -> float:
    return NormalDist().inv_cdf(0.5 + interval / 2)


def siblings_of(curve: Curve, curves: list[Curve], ladder: str | tuple[str, ...]) -> list[Curve]:
    """The curves of the same task in the sibling runs ``ladder`` names (auto: every other run)."""
    if ladder == "none":
        return []
    return [c for c in curves if c.task == curve.task and c.run != curve.run and (ladder == "auto" or c.run in ladder)]


def store_losses(store: Store, curves: list[Curve], config: ForecastConfig) -> dict[tuple[str, str], LossCurve]:
    """Gold-loss curves of every (run, task) whose records hold per-choice log-likelihoods."""
    return loss_curves(store, sorted({c.run for c in curves}), config.metric)


def task_losses(curve: Curve, losses: dict[tuple[str, str], LossCurve]) -> TaskLosses | None:
    """The run's gold-loss curve and every run's of its task, None when the run has none."""
    own = losses.get((curve.run, curve.task))
    if own is None:
        return None
    return own, [c for (_, task), c in losses.items() if task == curve.task]


def forecast_store(store: Store, run: str | None, at: int, config: ForecastConfig = ForecastConfig()) -> list[dict]:
    """One row per task of ``run`` (None: of every base run) at step ``at``, after each run's last stored step."""
    curves, sizes = store_curves(store, config)
    own = [c for c in curves if run is None or c.run == run]
    if not own:
        known = ", ".join(sorted(sizes)) or "none"
        raise CkptlensError(f"no scored task of run {run!r} in {store.root}; runs: {known}")
    for name in sorted({c.run for c in own}):
        last = max(int(c.steps[-1]) for c in own if c.run == name)
        if at <= last:
            raise CkptlensError(f"the step to forecast, {at}, is not after {name}'s last stored step {last}; to check "
                                "forecasts against stored checkpoints use --backtest F")
    losses = store_losses(store, curves, config)
    rows = [forecast_curve(c, at, siblings_of(c, curves, config.ladder), sizes, config, task_losses(c, losses))
            for c in own]
    return _named_metrics(store, rows, config)


def _named_metrics(store: Store, rows: list[dict], config: ForecastConfig) -> list[dict]:
    """Without --metric, a task with records is scored on its first metric (``matrix.chosen_metric``): say which."""
    if config.metric is not None:
        return rows
    names: dict[tuple[str, str], str | None] = {}
    for row in rows:
        key = (row["run"], row["task"])
        if key not in names:
            names[key] = None
            if row["task"] in store.tasks(row["run"]):
                names[key] = chosen_metric(store.read([row["run"]], [row["task"]], columns=["metrics"]), None)
        row["metric"] = names[key] or row["metric"]
    return rows


def step_at_tokens(store: Store, run: str, tokens: float, config: ForecastConfig = ForecastConfig()) -> int:
    """The step at which ``run`` will have seen ``tokens``, from its tokens per step so far."""
    curves = [c for c in store_curves(store, config)[0] if c.run == run]
    known = [(c.steps[i], c.tokens[i]) for c in curves for i in range(len(c.steps)) if np.isfinite(c.tokens[i])]
    known = [(s, t) for s, t in known if s > 0]
    if not known:
        raise CkptlensError(f"{run} records no tokens seen: forecast with --at-step instead of --at-tokens")
    per_step = float(np.median([t / s for s, t in known]))
    return int(round(tokens / per_step))


def planned_last_step(store: Store, run: str) -> int | None:
    """The last step the run's training plans (its series manifest's ``max_steps``), None when unknown."""
    from pathlib import Path

    from ckptlens.tasks.resolve import series_manifest

    series = store.info(run).series
    if not series or not Path(series).is_dir():
        return None
    planned = series_manifest(Path(series)).get("config", {}).get("max_steps")
    return int(planned) if planned else None


def forecast_horizon(store: Store, run: str, last: int) -> int | None:
    """The step a run's forecast looks to: its planned last step when known and still ahead, twice its last
    stored step when no plan is recorded, None when the run has reached its plan (its final scores are stored:
    there is nothing left to forecast, only the backtest to show)."""
    planned = planned_last_step(store, run)
    if planned is None:
        return 2 * last
    return planned if planned > last else None


def matrix_inputs(store: Store, matrices: dict, config: ForecastConfig) -> tuple[list[Curve], dict, dict]:
    """(curves, sizes, losses) from matrices already read (the report's single read of the store) and the
    store's imported task-level results: the base runs' record curves win over imported ones, as in
    ``curves.task_curves``."""
    sizes = run_sizes(store)
    curves = {(c.run, c.task): c for c in imported_curves(store, config.metric) if c.run in sizes}
    base = {key: m for key, m in matrices.items() if key[0] in sizes}
    curves.update({key: matrix_curve(m) for key, m in base.items()})
    losses = {key: found for key, m in base.items() if (found := loss_curve(m)) is not None}
    return [curves[k] for k in sorted(curves)], sizes, losses


def store_curves(store: Store, config: ForecastConfig) -> tuple[list[Curve], dict]:
    """The score curves of the store's base runs, and their sizes (``curves.run_sizes``)."""
    sizes = run_sizes(store)
    curves = [c for c in task_curves(store, config.metric) if c.run in sizes]  # base runs, not averaged ones
    if isinstance(config.ladder, tuple):
        unknown = sorted(set(config.ladder) - set(sizes))
        if unknown:
            raise CkptlensError(f"--ladder names unknown run(s) {', '.join(unknown)}; runs: {', '.join(sorted(sizes))}")
    return curves, sizes


def cut_step(curve: Curve, cut: float) -> int:
    """Backtest cut: ``cut`` <= 1 is a fraction of the curve's last step, a larger number a step."""
    return int(cut * curve.steps[-1]) if cut <= 1 else int(cut)


def backtest(curves: list[Curve], sizes: dict, cut: float, config: ForecastConfig = ForecastConfig(),
             runs: list[str] | None = None, losses: dict[tuple[str, str], LossCurve] | None = None) -> list[dict]:
    """Per (run, task): keep the checkpoints up to the cut, forecast the last one, compare.

    Siblings keep their whole curves; ``losses`` (``store_losses``) enables the two-step method. Rows add
    ``truth``, ``error`` (predicted - truth), ``covered``, the last-value and within-run baselines,
    ``above_chance`` (the truth is not near chance) and ``identified`` (False: the interval reaches the ceiling
    because the points at the cut do not identify the asymptote, ``not_identified``).
    """
    rows = []
    for curve in curves:
        if runs is not None and curve.run not in runs:
            continue
        loss = None if losses is None else task_losses(curve, losses)
        row = _backtest_row(curve, curves, sizes, cut_step(curve, cut), config, loss)
        if row is not None:
            rows.append(row)
    return rows


def curve_until(curve: Curve, step: int) -> Curve:
    """The curve's checkpoints up to ``step`` (a backtest's view of the run at its cut)."""
    keep = curve.steps <= step
    return replace(curve, steps=curve.steps[keep], tokens=curve.tokens[keep], scores=curve.scores[keep])


def _backtest_row(curve: Curve, curves: list[Curve], sizes: dict, cut: int, config: ForecastConfig,
                  loss: TaskLosses | None) -> dict | None:
    target, truth = int(curve.steps[-1]), float(curve.scores[-1])
    keep = curve.steps <= cut
    if not keep.any() or cut >= target:
        return None
    early = curve_until(curve, cut)
    try:
        row = forecast_curve(early, target, siblings_of(curve, curves, config.ladder), sizes, config, loss)
    except TooFewCheckpoints as err:
        row = {**dict.fromkeys(COLUMNS), "run": curve.run, "task": curve.task, "step": target, "note": str(err)}
    within = within_run(early, target, config)
    predicted = row["predicted"]
    return {
        **row, "cut_step": cut, "truth": truth,
        "error": None if predicted is None else predicted - truth,
        "covered": None if predicted is None else bool(row["lo"] <= truth <= row["hi"]),
        "last_value": float(early.scores[-1]), "within_run": None if within is None else within[0],
        "above_chance": not near_chance(truth, curve.chance, curve.n_examples),
        "identified": None if predicted is None else NOT_IDENTIFIED not in (row["note"] or ""),
    }


def backtest_summary(rows: list[dict]) -> dict:
    """MAE (points, over pairs above chance) of the forecast and both baselines, and the interval coverage.

    ``mae_within`` and ``mae_on_within_pairs`` are over the pairs the within-run fit can forecast, so their
    ratio compares like with like. ``unidentified`` counts the pairs whose interval was widened to the ceiling
    (their asymptote not identified at the cut); ``coverage_identified`` and ``mae_identified`` are over the others.
    """
    scored = [r for r in rows if r["above_chance"] and r["predicted"] is not None]
    both = [r for r in scored if r["within_run"] is not None]
    known = [r for r in scored if r["identified"]]

    def mae(values):
        return float(100 * np.mean(np.abs(values))) if len(values) else None

    return {
        "pairs": len(scored), "mae": mae([r["error"] for r in scored]),
        "coverage": float(np.mean([r["covered"] for r in scored])) if scored else None,
        "mae_last_value": mae([r["last_value"] - r["truth"] for r in scored]),
        "within_pairs": len(both), "mae_within": mae([r["within_run"] - r["truth"] for r in both]),
        "mae_on_within_pairs": mae([r["error"] for r in both]),
        "methods": sorted({r["method"] for r in scored}),
        "unidentified": len(scored) - len(known), "mae_identified": mae([r["error"] for r in known]),
        "coverage_identified": float(np.mean([r["covered"] for r in known])) if known else None,
    }


def backtest_store(store: Store, cut: float, config: ForecastConfig = ForecastConfig(),
                   runs: list[str] | None = None) -> list[dict]:
    """``backtest`` over every base run of the store (or ``runs``)."""
    curves, sizes = store_curves(store, config)
    rows = backtest(curves, sizes, cut, config, runs, store_losses(store, curves, config))
    if not rows:
        raise CkptlensError(f"nothing to backtest in {store.root}: no run has a checkpoint after the cut {cut:g}")
    return _named_metrics(store, rows, config)
