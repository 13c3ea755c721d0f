"""Forecasts as terminal tables and the report section "Where is this run heading?"."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from rich.table import Table

from ckptlens.analysis.curves import Curve
from ckptlens.analysis.forecast import (
    NOT_IDENTIFIED,
    ForecastConfig,
    TooFewCheckpoints,
    backtest,
    backtest_summary,
    curve_until,
    forecast_curve,
    forecast_horizon,
    matrix_inputs,
    siblings_of,
    store_curves,
    store_losses,
    task_losses,
    within_fit,
)
from ckptlens.analysis.health import health_line, run_health, store_health
from ckptlens.report.data import ReportData
from ckptlens.report.figures import SCORE_LABEL, STEP_LABEL, plt, save_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import add_columns

BACKTEST_CUT = 0.3  # the report's backtest keeps the first 30% of each run
PATH_POINTS = 8  # forecasts drawn between the last checkpoint and the horizon
MAX_FIGURES = 6  # tasks drawn (furthest from chance first); the table lists them all


def _num(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def forecast_rich_table(rows: Sequence[dict]) -> Table:
    """One line per (run, task): the forecast, its interval and how it was made."""
    table = Table(title=f"Forecast at step {rows[0]['step'] if rows else '?'}", title_justify="left")
    add_columns(table, ("run", "task", "metric", "predicted", "lo", "hi", "method", "points", "note"),
                left=("run", "task", "metric", "method", "note"))
    for r in rows:
        table.add_row(r["run"], r["task"], r["metric"], _num(r["predicted"]), _num(r["lo"]), _num(r["hi"]),
                      r["method"] or "–", str(r["n_points"] or "–"), r["note"] or "")
    return table


def backtest_rich_table(rows: Sequence[dict]) -> Table:
    """One line per (run, task): forecast of the last stored step from the checkpoints up to the cut."""
    table = Table(title="Backtest: forecast of each run's last checkpoint from its early ones", title_justify="left")
    add_columns(table, ("run", "task", "cut", "step", "truth", "predicted", "lo", "hi", "error", "covered", "method",
                        "last value", "within-run", "note"), left=("run", "task", "method", "note"))
    for r in rows:
        table.add_row(r["run"], r["task"], str(r["cut_step"]), str(r["step"]), _num(r["truth"]), _num(r["predicted"]),
                      _num(r["lo"]), _num(r["hi"]), "–" if r["error"] is None else f"{r['error']:+.3f}",
                      {True: "yes", False: "NO", None: "–"}[r["covered"]], r["method"] or "–",
                      _num(r["last_value"]), _num(r["within_run"]), r["note"] or "")
    return table


def summary_line(summary: dict) -> str:
    """The backtest in one sentence: MAE and coverage against the two baselines."""
    if not summary["pairs"]:
        return "no forecast of a task above chance: nothing to summarise"

    def pts(value):
        return "n/a" if value is None else f"{value:.2f}"

    return (f"{summary['pairs']} (run, task) pairs above chance: MAE {pts(summary['mae'])} points "
            f"({', '.join(summary['methods'])}), coverage {summary['coverage']:.0%}{_unidentified(summary)}; "
            f"last value {pts(summary['mae_last_value'])}; within-run fit {pts(summary['mae_within'])} vs this "
            f"forecast {pts(summary['mae_on_within_pairs'])} on the {summary['within_pairs']} pairs it can fit")


def _unidentified(summary: dict) -> str:
    """How many intervals reach the ceiling because the asymptote was not identified, and the rest's figures."""
    count = summary["unidentified"]
    if not count:
        return ""
    rest = summary["pairs"] - count
    known = (f"; on the other {rest}: MAE {summary['mae_identified']:.2f}, coverage "
             f"{summary['coverage_identified']:.0%}") if rest else ""
    return f" ({count} of {summary['pairs']} asymptote(s) not identified at the cut: interval up to 1{known})"


def forecast_section(page: Page, data: ReportData) -> None:
    """Per base run: the forecast to its planned end (or twice its last step; a run that reached its planned end
    shows the forecast of it from its first 30% instead), the backtest, the health flags."""
    config = ForecastConfig(metric=data.config.stability.metric)
    curves, sizes, losses = matrix_inputs(data.store, data.matrices, config)
    if not curves:
        return
    section = page.section("Where is this run heading?", "What will each task score at the end of training, and "
                           "is any checkpoint dropping below the run's trend?")
    for run in sorted({c.run for c in curves} & data.base_runs):
        _run_part(section, data, run, (curves, sizes, losses), config)


def _run_part(section, data: ReportData, run: str, inputs: tuple, config: ForecastConfig) -> None:
    curves, sizes, losses = inputs
    last = max(int(c.steps[-1]) for c in curves if c.run == run)
    horizon = forecast_horizon(data.store, run, last)
    if horizon is None:
        _finished_part(section, data, run, last, inputs, config)
    else:
        _ahead_part(section, data, run, horizon, inputs, config)
        _backtest_part(section, backtest(curves, sizes, BACKTEST_CUT, config, [run], losses))
    flags = run_health(run, curves, data.matrices)
    if flags:
        section.table(("task", "step", "drop", "p_value", "test"), flags)
    else:
        section.text("Health: no checkpoint drops below the run's trend by more than its noise.")


def _finished_part(section, data: ReportData, run: str, last: int, inputs: tuple, config: ForecastConfig) -> None:
    """A run at its planned last step: its final scores are stored, so show how well its first 30% foresaw them."""
    curves, sizes, losses = inputs
    rows = backtest(curves, sizes, BACKTEST_CUT, config, [run], losses)
    section.heading(f"{run}: reached its planned last step {last}; its final scores forecast from its first "
                    f"{BACKTEST_CUT:.0%}", level=3)
    own = {c.task: c for c in curves if c.run == run}
    drawn = sorted((r for r in rows if r["predicted"] is not None),
                   key=lambda r: -(r["truth"] - (own[r["task"]].chance or 0)))
    for r in drawn[:MAX_FIGURES]:
        curve = own[r["task"]]
        path = _figure(curve_until(curve, r["cut_step"]), last, inputs, config,
                       data.figures / f"forecast-{run}-{curve.task}.png", later=curve)
        section.figure(path, f"{run} {curve.task}: scores up to step {r['cut_step']}, the forecast band from there to "
                             f"step {last}, and the scores observed after the cut")
    section.table(("task", "cut_step", "truth", "predicted", "lo", "hi", "covered", "method", "note"), rows)
    _backtest_part(section, rows)


def _ahead_part(section, data: ReportData, run: str, horizon: int, inputs: tuple, config: ForecastConfig) -> None:
    curves, sizes, losses = inputs
    own = [c for c in curves if c.run == run]
    rows, drawn = [], []
    for curve in own:
        try:
            rows.append(forecast_curve(curve, horizon, siblings_of(curve, curves, config.ladder), sizes, config,
                                       task_losses(curve, losses)))
        except TooFewCheckpoints as err:
            section.text(f"{run}/{curve.task}: {err}")
            continue
        drawn.append(curve)
    section.heading(f"{run}: forecast to step {horizon}", level=3)
    drawn.sort(key=lambda c: -(c.scores[-1] - (c.chance or 0)))
    for curve in drawn[:MAX_FIGURES]:
        path = _figure(curve, horizon, inputs, config, data.figures / f"forecast-{run}-{curve.task}.png")
        section.figure(path, f"{run} {curve.task}: observed scores, fitted path and forecast band to step {horizon}")
    section.table(("task", "predicted", "lo", "hi", "method", "n_points", "note"), rows)


def _backtest_part(section, rows: list[dict]) -> None:
    if not rows:
        return
    summary = backtest_summary(rows)
    refused = [r["note"] for r in rows if r["predicted"] is None]
    why = f" ({len(refused)} task(s) without a forecast: {refused[0]})" if refused else ""
    section.text(f"Backtest (first {BACKTEST_CUT:.0%} of the run, forecast of its last checkpoint): "
                 + summary_line(summary) + why)


def _figure(curve: Curve, horizon: int, inputs: tuple, config: ForecastConfig, path: Path,
            later: Curve | None = None) -> Path:
    """``curve``'s points, fitted law and forecast band to ``horizon``; ``later``: the whole run, whose points
    after ``curve``'s last are drawn hollow (a backtest's truth)."""
    curves, sizes, losses = inputs
    siblings = siblings_of(curve, curves, config.ladder)
    grid = np.unique(np.geomspace(curve.steps[-1] + 1, horizon, PATH_POINTS).astype(int))
    loss = task_losses(curve, losses)
    path_rows = [forecast_curve(curve, int(s), siblings, sizes, config, loss) for s in grid]
    fig, ax = plt.subplots(figsize=(6, 3.2))
    for sibling in siblings:
        ax.plot(sibling.steps, sibling.scores, color="grey", alpha=0.25, lw=1)
    ax.plot(curve.steps, curve.scores, "o", ms=3, color="C0", label="observed")
    if later is not None:
        after = later.steps > curve.steps[-1]
        ax.plot(later.steps[after], later.scores[after], "o", ms=3, mfc="none", color="C0",
                label="observed after the cut")
    ax.plot([curve.steps[-1], *grid], [curve.scores[-1], *(r["predicted"] for r in path_rows)], color="C1",
            label=f"forecast ({path_rows[-1]['method']})")
    ax.fill_between(grid, [r["lo"] for r in path_rows], [r["hi"] for r in path_rows], color="C1", alpha=0.2,
                    label=f"{config.interval:.0%} interval")
    if curve.chance is not None:
        ax.axhline(curve.chance, color="black", lw=0.8, ls=":", label="chance")
    fitted = within_fit(curve, config)
    if fitted is not None:
        x = np.geomspace(max(float(curve.steps[curve.steps > 0].min(initial=1)), config.fit_start * curve.steps[-1]),
                         horizon, 60)
        ax.plot(x, fitted(x), color="C0", lw=1, ls="--", label="within-run law")
    positive = curve.steps[curve.steps > 0]
    if len(positive) == len(curve.steps):
        ax.set_xscale("log")
    else:
        ax.set_xscale("symlog", linthresh=float(positive.min(initial=1)))
        ax.set_xlim(left=0)
    ax.set_title(f"{curve.run} / {curve.task}" + (" (siblings faint)" if siblings else ""), fontsize=10)
    ax.set_xlabel(STEP_LABEL, fontsize=9)
    ax.set_ylabel(SCORE_LABEL, fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def watch_lines(store, run: str, step: int, metric: str | None = None) -> list[str]:
    """What a watch prints after a checkpoint: the health flags at ``step`` and one forecast line for the run."""
    lines = [health_line(run, f["task"], f) for f in store_health(store, run, metric) if f["step"] == step]
    config = ForecastConfig(metric=metric)
    curves, sizes = store_curves(store, config)
    own = [c for c in curves if c.run == run]
    if not own:
        return lines
    last = max(int(c.steps[-1]) for c in own)
    horizon = forecast_horizon(store, run, last)
    if horizon is None:
        return [*lines, f"forecast: {run} reached its planned last step {last}; its final scores are stored"]
    parts, losses = [], store_losses(store, curves, config)
    for curve in own:
        try:
            r = forecast_curve(curve, horizon, siblings_of(curve, curves, config.ladder), sizes, config,
                               task_losses(curve, losses))
        except TooFewCheckpoints:
            continue
        unknown = " (asymptote not identified)" if NOT_IDENTIFIED in (r["note"] or "") else ""
        parts.append(f"{curve.task} {r['predicted']:.3f} [{r['lo']:.3f}, {r['hi']:.3f}]{unknown}")
    waiting = len(own) - len(parts)
    if parts or waiting:
        more = f" ({waiting} task(s) wait for {config.min_points} checkpoints)" if waiting else ""
        lines.append(f"forecast at step {horizon}: {'; '.join(parts) or 'none yet'}{more}")
    return lines
