"""Everything a report shows, computed from one read of the store.

``analyse`` reads the store's records once (``read_matrices``) and hands the same matrices to every analysis
(stability, selection, linearity, trajectories), then every section of the page draws from the ``ReportData``
it returns, so adding a section never adds a pass over the store.

>>> data = analyse(Store("store"), ReportConfig(), Path("report"))
>>> data.rows[0].method
'raw'
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

from ckptlens.analysis.curves import Curve, imported_curves, matrix_curve, run_sizes
from ckptlens.analysis.groups import weighted_means
from ckptlens.analysis.linearity import LinearityRow, linearity_gaps
from ckptlens.analysis.matrix import Matrices, read_matrices
from ckptlens.analysis.selection import SelectConfig, Selection, select_checkpoints
from ckptlens.analysis.stability import (
    StabilityConfig,
    StabilityRow,
    Sweep,
    averaged_runs,
    stability_sweep,
    summarise,
)
from ckptlens.analysis.taskset import TaskSet, shared_tasks
from ckptlens.analysis.trajectories import TrajectoryPoint, trajectories
from ckptlens.errors import CkptlensError
from ckptlens.report.tables import summary_order
from ckptlens.report.verdict import BestCheckpoint, best_checkpoints
from ckptlens.store import Store

PHASES = 5  # spans of training the report compares methods over; the last is the final window of --last 0.2


@dataclass(frozen=True)
class ReportConfig:
    stability: StabilityConfig = StabilityConfig()  # final window, windows, ensemble rules, adaptive rule
    select_window: int = 4  # window of the smoothed selection rules
    tasks: tuple[str, ...] | None = None  # the tasks to compare runs on (--tasks); None: those every run learned


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

    @cached_property
    def phase_rows(self) -> list[StabilityRow]:
        """Stability rows per fifth of training (``analysis.stability_phases``; adaptive windows left out)."""
        from ckptlens.analysis.stability_phases import phase_sweep

        config = replace(self.config.stability, adaptive=None)
        with warnings.catch_warnings():  # short windows of early phases: the section's table shows their steps
            warnings.simplefilter("ignore")
            try:
                return phase_sweep(self.store, config, PHASES, loaded=self.matrices).rows if self.rows else []
            except CkptlensError:  # too few checkpoints per phase: the findings say the question stays open
                return []

    @cached_property
    def margins(self) -> list:
        """(bins, summary) of ``analysis.probability_dynamics`` per multiple-choice task with log-likelihoods."""
        from ckptlens.analysis.probability_dynamics import DynamicsConfig, margin_dynamics

        windows = self.config.stability.windows
        config = DynamicsConfig(last=self.last, window=4 if 4 in windows else max(windows))
        return [margin_dynamics(m, config) for (run, _), m in sorted(self.matrices.items())
                if run in self.base_runs and m.kind == "multiple_choice" and m.logliks.shape[2] > 1]

    @cached_property
    def sizes(self) -> dict[str, int | None]:
        """Parameters of each base run, None when unknown (``analysis.curves.run_sizes``)."""
        return run_sizes(self.store)

    def runs(self) -> list[str]:
        """Base runs with rows in the stability table, by size (unknown sizes last), then by name."""
        return sorted({r.run for r in self.rows}, key=lambda r: (self.sizes.get(r) is None, self.sizes.get(r) or 0, r))

    @cached_property
    def taskset(self) -> TaskSet:
        """The tasks every mean over tasks (and the verdict) is over (``analysis.taskset``)."""
        return shared_tasks(self.rows, self.config.tasks, self.runs())

    @cached_property
    def summary(self) -> list[dict]:
        """Means over the task set's tasks per (run, method, window): the table under the verdict, runs by size."""
        runs = self.runs()
        return sorted(summarise(self.taskset.rows(self.rows)),
                      key=lambda r: (runs.index(r["run"]), *summary_order(r)[1:]))

    @cached_property
    def curves(self) -> list[Curve]:
        """Score by step of every base run and task: its matrix, else its imported results (``analysis.curves``)."""
        stability = self.config.stability
        curves = {(c.run, c.task): c for c in imported_curves(self.store, stability.metric, stability.categories)
                  if c.run in self.base_runs}
        curves.update({key: matrix_curve(m) for key, m in self.matrices.items() if key[0] in self.base_runs})
        return [curves[key] for key in sorted(curves)]


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
