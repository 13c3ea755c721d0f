"""What ``ckptlens eval --watch`` prints and refreshes after each checkpoint it evaluates."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.checkpoints import Checkpoint
from ckptlens.checkpoints.source import series_name
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalSummary
from ckptlens.evaluation.watch import OnCheckpoint
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.forecast import watch_lines
from ckptlens.store import Store


def refresh_after_each(
    console: Console, store: Store, report_dir: Path | None, last: float | None = None, run: str | None = None
) -> OnCheckpoint:
    """A callback that reports the checkpoint, its health flags and the run's forecast, and rewrites the report
    (stability tables included). ``run`` is the watched run (default: the series folder's name).

    ``last`` is the report's stability window (final fraction of training so far; default 0.2). Early in a
    run that window may hold fewer than two checkpoints: the report then says why it waits (and that a
    larger ``--last`` shows it now) instead of stopping the watch.
    """
    config = ReportConfig() if last is None else ReportConfig(stability=StabilityConfig(last=last))

    def refresh(ckpt: Checkpoint, summary: EvalSummary) -> None:
        console.print(f"evaluated {ckpt.name}: {summary.units_done} new units, {summary.units_skipped} already stored")
        for line in watch_lines(store, run or series_name(ckpt.path.parent), ckpt.step):
            console.print(line, highlight=False)
        if report_dir is None:
            return
        try:
            console.print(f"report: {write_report(store, report_dir, config).html}")
        except CkptlensError as err:
            console.print(f"report not refreshed yet: {err} (a larger --last shows it sooner)", highlight=False)

    return refresh
