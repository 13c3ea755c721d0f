"""Evaluate a series folder on tasks into a store: what ``ckptlens eval`` does, as a Python call.

``evaluate`` turns its arguments into an ``EvalRequest`` and runs it
(``executors.run_request``: plan, then the local or Ray executor); build an
``EvalRequest`` yourself for every option, or load one ``from_yaml``.

>>> evaluate("runs/demo", ["tasks/capitals.jsonl", "valid.txt"], Store("out/store"))
EvalSummary(units_done=12, units_skipped=0, models_loaded=6)
>>> evaluate("runs/demo", ["tasks/capitals.jsonl"], Store("out/store"),
...          series=SeriesOptions(steps="20:60:20", last=0.5, average_window=2))
EvalSummary(units_done=2, units_skipped=0, models_loaded=2)
>>> Store("out/store").runs()
['demo', 'demo-avg2']

A Hub series (``"hf://EleutherAI/pythia-70m"``, with ``SeriesOptions(steps="1000:143000:1000")``) is read the
same way, and ``cluster=RayOptions(address="auto")`` runs the units on a Ray cluster instead of here.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.config import EvalConfig, EvalSummary
from ckptlens.evaluation.executors import run_request
from ckptlens.evaluation.plan import validate_tasks
from ckptlens.evaluation.provenance import run_info, task_hashes
from ckptlens.evaluation.ray_executor import RayOptions
from ckptlens.evaluation.request import EvalRequest
from ckptlens.store import Store
from ckptlens.tasks.task import Task

__all__ = ["SeriesOptions", "evaluate", "request_of", "run_info", "task_hashes", "validate_tasks"]


@dataclass(frozen=True)
class SeriesOptions:
    steps: str | None = None  # --steps filter: start:stop:every (stop included) or a list 100,200
    last: float | None = None  # only the final fraction of training (averages: windows ending there)
    average_window: int | None = None  # evaluate trailing-window averages of n checkpoints, held in memory
    skip_incomplete: bool = False  # leave out checkpoint folders without config.json instead of stopping
    n_params: int | None = None  # the model's size (--size), for by-size analyses

    def __post_init__(self) -> None:
        if self.average_window is not None and self.average_window < 1:
            raise CkptlensError(f"--average-window must be at least 1 checkpoint, got {self.average_window}")


def evaluate(
    series_dir: str | Path,
    tasks: Sequence[str | Task],
    store: Store,
    run: str | None = None,
    config: EvalConfig = EvalConfig(),
    progress: Callable[[int, int], None] | None = None,
    series: SeriesOptions = SeriesOptions(),
    cluster: RayOptions | None = None,
) -> EvalSummary:
    """Evaluate every checkpoint in ``series_dir`` on ``tasks``; the run is named after the folder by default.

    ``series_dir`` may also be a Hub series ``hf://org/name``. With
    ``series.average_window`` n, the run ``<run>-avg<n>`` (``<run>`` defaulting
    to the series name) holds the trailing-window averages, computed in memory
    and linked to the base run like an averaged folder written by ``ckptlens
    average``; averages never go into the raw run.

    No ``tasks`` means the built-in tasks, and only on a series that records them (the demo's;
    ``tasks.resolve.default_tasks``): another model gets a one-line error asking for ``--tasks``.
    ``progress(done, total)`` counts (checkpoint, task) units, finished or skipped.
    With ``cluster``, the units run on a Ray cluster (``ray_executor``) instead of here.
    """
    request = request_of(series_dir, [t for t in tasks if isinstance(t, str)], store, run, config, series, cluster)
    return run_request(request, progress, [t for t in tasks if isinstance(t, Task)], config)


def request_of(
    series_dir: str | Path, specs: Sequence[str], store: Store, run: str | None, config: EvalConfig,
    series: SeriesOptions = SeriesOptions(), cluster: RayOptions | None = None,
) -> EvalRequest:
    """The ``EvalRequest`` that ``evaluate``'s arguments describe."""
    return EvalRequest(
        series=str(series_dir), tasks=tuple(specs), store=str(store.root), run=run, steps=series.steps,
        last=series.last, average_window=series.average_window, skip_incomplete=series.skip_incomplete,
        size=series.n_params, batch_size=config.batch_size, batch_tokens=config.batch_tokens, device=config.device,
        dtype=config.dtype, allow_pickle=config.allow_pickle, shard_size=config.shard_size,
        reevaluate=config.reevaluate, executor="local" if cluster is None else "ray",
        address=cluster and cluster.address, max_retries=cluster and cluster.max_retries,
        **_representation_fields(config),
    )  # fmt: skip


def _representation_fields(config: EvalConfig) -> dict:
    states = config.representations
    if states is None:
        return {}
    return {"representations": True, "representation_layers": states.layers or (), "representation_dims": states.dims,
            "representation_seed": states.seed}
