"""Everything a report shows, computed from one read of the store.

``analyse`` reads the store's records once (``read_matrices``) and hands the same matrices to every analysis
(stability, selection, linearity, trajectories), then every section of the page draws from the ``ReportData``
it returns, so adding a section never adds a pass over the store.

>>> data = analyse(Store("store"), ReportConfig(), Path("report"))
>>> data.rows[0].method
'raw'
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from ckptlens.analysis.groups import weighted_means
from ckptlens.analysis.linearity import LinearityRow, linearity_gaps
from ckptlens.analysis.matrix import Matrices, read_matrices
from ckptlens.analysis.selection import SelectConfig, Selection, select_checkpoints
from ckptlens.analysis.stability import StabilityConfig, StabilityRow, Sweep, averaged_runs, stability_sweep
from ckptlens.analysis.trajectories import TrajectoryPoint, trajectories
from ckptlens.report.verdict import BestCheckpoint, best_checkpoints
from ckptlens.store import Store


@dataclass(frozen=True)
class ReportConfig:
    stability: StabilityConfig = StabilityConfig()  # final window, windows, ensemble rules, adaptive rule
    select_window: int = 4  # window of the smoothed selection rules


@dataclass(frozen=True)
class ReportData:
    """The analyses of one store, shared by every section of the page."""

    store: Store
    config: ReportConfig
    out: Path  # the report folder: sections write their CSVs and figures under it
    matrices: Matrices  # every scored (run, task), from the single read of the store
    base_runs: set[str]
    averaged: dict[tuple[str, int], str]  # (base run, window) -> averaged run
    sweep: Sweep
    selections: list[Selection]
    best: list[BestCheckpoint]
    points: list[TrajectoryPoint]

    @property
    def rows(self) -> list[StabilityRow]:
        return self.sweep.rows

    @property
    def figures(self) -> Path:
        return self.out / "figures"

    @property
    def last(self) -> float:
        return self.config.stability.last

    @cached_property
    def linearity(self) -> list[LinearityRow]:
        """Gap rows of every averaged run over the final window (``analysis.linearity``)."""
        return linearity_gaps(self.store, self.last, self.matrices)

    @cached_property
    def group_scores(self) -> list[dict]:
        """Size-weighted score per (run, category, step) of the base runs (``analysis.groups``)."""
        return weighted_means(m for (run, _), m in sorted(self.matrices.items()) if run in self.base_runs)

    def runs(self) -> list[str]:
        """Base runs with rows in the stability table, in name order."""
        return sorted({r.run for r in self.rows})


def analyse(store: Store, config: ReportConfig, out: Path) -> ReportData:
    """Read the store once and run every analysis the report shows."""
    matrices = read_matrices(store, config.stability.categories, config.stability.metric)
    base_runs, averaged = averaged_runs(store)
    sweep = stability_sweep(store, config.stability, matrices)
    base_matrices = any(run in base_runs for run, _ in matrices)
    select = SelectConfig(last=config.stability.last, window=config.select_window, metric=config.stability.metric)
    selections = select_checkpoints(store, select, loaded=matrices) if base_matrices else []
    stability = config.stability
    return ReportData(
        store=store, config=config, out=out, matrices=matrices, base_runs=base_runs, averaged=averaged, sweep=sweep,
        selections=selections, best=best_checkpoints(matrices, base_runs, stability.last),
        points=trajectories(matrices, (base_runs, averaged), stability.windows, stability.rules),
    )
