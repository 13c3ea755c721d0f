"""``ckptlens forecast``: where each task's score is heading, or a backtest of it (registered in ``cli.app``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptlens.cli.options import DEFAULT_STORE, MetricOpt, StoreOpt, TableFormat
from ckptlens.cli.output import emit
from ckptlens.errors import CkptlensError


def forecast(
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Run to forecast (default: every run of the store).")] = None,
    at_step: Annotated[int | None, typer.Option("--at-step", help="Step to forecast, after the run's last.")] = None,
    at_tokens: Annotated[
        float | None, typer.Option("--at-tokens", help="Or tokens seen to forecast at (the run's tokens per step).")
    ] = None,
    backtest: Annotated[
        float | None,
        typer.Option("--backtest", help="Keep checkpoints up to F of each run's last step (0.3), or up to step F "
                     "(43000), forecast the last one and score the forecast."),
    ] = None,
    metric: MetricOpt = None,
    interval: Annotated[float, typer.Option(help="Central probability of the interval from lo to hi.")] = 0.9,
    ladder: Annotated[
        str, typer.Option(help="Sibling runs of other sizes: auto (all in the store), none, or RUN,RUN.")
    ] = "auto",
    fit_start: Annotated[
        float, typer.Option(help="Within-run fit: checkpoints from this fraction of the last step on.")
    ] = 0.05,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
) -> None:
    """Forecast each task's score at a later step (within-run law, sibling sizes), with an interval."""
    from ckptlens.analysis.forecast import (
        ForecastConfig,
        backtest_store,
        backtest_summary,
        forecast_store,
        step_at_tokens,
    )
    from ckptlens.report.forecast import backtest_rich_table, forecast_rich_table, summary_line
    from ckptlens.store import Store

    config = ForecastConfig(interval=interval, fit_start=fit_start, ladder=_ladder(ladder), metric=metric)
    _check(interval, fit_start, at_step, at_tokens, backtest, run)
    if backtest is not None:
        rows = backtest_store(Store(store), backtest, config, None if run is None else [run])
        summary = backtest_summary(rows)
        emit(fmt, rows, lambda: [backtest_rich_table(rows), summary_line(summary)])
        return
    step = at_step if at_tokens is None else step_at_tokens(Store(store), run, at_tokens, config)
    rows = forecast_store(Store(store), run, step, config)
    emit(fmt, rows, lambda: [forecast_rich_table(rows)])


def _check(interval: float, fit_start: float, at_step, at_tokens, backtest, run) -> None:
    """Every refusal of the arguments at once, before any reading."""
    problems = []
    if not 0 < interval < 1:
        problems.append(f"--interval must lie between 0 and 1, got {interval}")
    if not 0 <= fit_start < 1:
        problems.append(f"--fit-start must lie in [0, 1), got {fit_start}")
    if backtest is not None:
        if at_step is not None or at_tokens is not None:
            problems.append("--backtest forecasts each run's last stored step: leave out --at-step/--at-tokens")
        if backtest <= 0:
            problems.append(f"--backtest must be a fraction in (0, 1] or a step, got {backtest}")
    else:
        if at_tokens is not None and run is None:
            problems.append("--at-tokens converts with one run's tokens per step: name it with --run")
        if (at_step is None) == (at_tokens is None):
            problems.append("give one of --at-step N or --at-tokens T (or --backtest F)")
    if problems:
        raise CkptlensError("; ".join(problems))


def _ladder(text: str) -> str | tuple[str, ...]:
    if text in ("auto", "none"):
        return text
    names = tuple(n for n in text.split(",") if n)
    if not names:
        raise CkptlensError("--ladder takes auto, none or a comma-separated list of runs")
    return names

