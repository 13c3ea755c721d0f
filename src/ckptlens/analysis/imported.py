"""Task-level results imported without per-example samples, as one score trajectory per (run, task).

A results file gives a task's score at a checkpoint and no examples, so there is no matrix to build:
this is the task-level counterpart of ``matrix``, read by the stability table and the capability curves
for the runs that have no records. It keeps lm-eval's unfiltered rows (filter ``none`` or none at all)
of one metric, ``matrix.imported_metric`` (acc unless asked), and the ``n_samples`` the import recorded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ckptlens.analysis.matrix import imported_metric
from ckptlens.store import SAMPLE_COUNT, Store


@dataclass(frozen=True)
class ImportedScores:
    run: str
    task: str
    steps: np.ndarray  # (m,) int, increasing
    scores: np.ndarray  # (m,) the imported value at each step (the mean if a step was imported twice)
    tokens: np.ndarray  # (m,) float tokens seen, NaN where unknown
    sizes: dict[int, float]  # step -> examples scored (lm-eval's n-samples), where recorded

    def sizes_at(self, steps) -> list[float | None]:
        """The recorded example counts at ``steps`` (None where not recorded): ``benchmarks.example_count``'s input."""
        return [self.sizes.get(int(s)) for s in steps]


def imported_scores(store: Store, runs: list[str] | None = None, metric: str | None = None) -> list[ImportedScores]:
    """Every (run, task) of ``runs`` (all when None) with an imported value of the metric, sorted."""
    table = store.read_aggregates(runs)
    table = table.filter(pc.invert(pc.fill_null(pc.not_equal(table["filter"], "none"), False)))
    sizes: dict[tuple[str, str], dict[int, float]] = {}
    counted = table.filter(pc.equal(table["metric"], SAMPLE_COUNT))
    for run, task, step, n in zip(*(counted[c].to_pylist() for c in ("run", "task", "step", "value"))):
        sizes.setdefault((run, task), {})[step] = n
    table = table.filter(pc.equal(table["metric"], imported_metric(metric)))
    if table.num_rows == 0:
        return []
    grouped = table.group_by(["run", "task", "step"]).aggregate([("value", "mean"), ("tokens_seen", "max")])
    grouped = grouped.sort_by([("run", "ascending"), ("task", "ascending"), ("step", "ascending")])
    keys = list(zip(grouped["run"].to_pylist(), grouped["task"].to_pylist()))
    steps = grouped["step"].to_numpy().astype(np.int64)
    values = grouped["value_mean"].to_numpy(zero_copy_only=False).astype(float)
    tokens = pc.fill_null(grouped["tokens_seen_max"].cast(pa.float64()), float("nan")).to_numpy()
    found, start = [], 0
    for end in range(1, len(keys) + 1):
        if end == len(keys) or keys[end] != keys[start]:
            run, task = keys[start]
            found.append(ImportedScores(run, task, steps[start:end], values[start:end], tokens[start:end],
                                        sizes.get((run, task), {})))
            start = end
    return found
