"""Evaluate a series folder on tasks into a store: what ``ckptlens eval`` does.

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

from ckptlens.checkpoints import Checkpoint, is_hub_spec, open_series, series_id, series_name, window_ends_in_last
from ckptlens.checkpoints.loading import load_tokenizer, resolve_device
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.in_memory import averaged_checkpoints, window_average_loader
from ckptlens.evaluation.ray_executor import RayOptions, evaluate_on_ray
from ckptlens.evaluation.runner import (
    EvalConfig,
    EvalSummary,
    Loader,
    check_unique_names,
    evaluate_series,
    prompt_hash,
)
from ckptlens.evaluation.scoring import encode_example
from ckptlens.store import Store, prompt_changes
from ckptlens.tasks.resolve import default_tasks, manifest_source, resolve_tasks, series_manifest
from ckptlens.tasks.task import Task


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

    The store records what the run is: its series folder, and for an averaged
    series (written by ``ckptlens average``) the series it was averaged from
    and the window, so the stability table can put averages beside raw rows.
    """
    window = series.average_window
    if cluster is not None and window:
        raise CkptlensError("--average-window keeps a running sum in one process and cannot run on Ray; "
                            "write the averages with `ckptlens average` and evaluate that folder")
    if cluster is None:
        resolve_device(config.device)  # on Ray the workers' devices count, not this machine's
    local_dir = None if is_hub_spec(series_dir) else Path(series_dir)
    source = open_series(
        series_dir, series.steps, None if window else series.last, config.allow_pickle, series.skip_incomplete
    )
    checkpoints, load = _averaged(source, window, series.last, config) if window else (source, None)
    specs = list(tasks) or default_tasks(local_dir)
    task_list = [t for spec in specs for t in ([spec] if isinstance(spec, Task) else resolve_tasks([spec], local_dir))]
    run = (run or series_name(series_dir)) + (f"-avg{window}" if window else "")
    validate_tasks(task_list, checkpoints[0])
    info = _source_info(series_dir, checkpoints, window)
    info = {**info, "n_params": series.n_params} if series.n_params else info
    open_run(store, run, task_list, info, config.reevaluate)
    total, done = len(checkpoints) * len(task_list), iter(range(1, len(checkpoints) * len(task_list) + 1))
    on_unit = None if progress is None else (lambda checkpoint, task: progress(next(done), total))
    if cluster is not None:
        return evaluate_on_ray(checkpoints, task_list, store, run, config, cluster, on_unit)
    return evaluate_series(checkpoints, task_list, store, run, config, on_unit=on_unit, load=load)


def validate_tasks(tasks: Sequence[Task], first: Checkpoint) -> None:
    """Check every task against the series' tokenizer before anything is written to the store.

    Task files are checked when loaded; what only the tokenizer can tell (a choice that
    encodes to no tokens) would otherwise stop the run after some units were stored.
    lm-eval's tasks hold their choices in lm-eval's requests, which lm-eval built and checked.
    """
    check_unique_names(tasks)
    tokenizer = load_tokenizer(first.path)
    for task in tasks:
        if task.kind != "multiple_choice" or task.lm_eval is not None:
            continue
        for example in task.examples:
            try:
                encode_example(tokenizer, example)
            except CkptlensError as err:
                raise CkptlensError(f"task {task.name!r}: {err}") from None


def open_run(store: Store, run: str, tasks: Sequence[Task], info: dict, reevaluate: bool) -> None:
    """Record ``run`` in the store, once its stored records are known to come from the tasks' prompts.

    A task edited since its records were stored is an error naming it (mixing old and new
    prompts would read as instability), unless ``reevaluate``: then the units holding
    other prompts are removed, and the evaluation that follows redoes exactly those.
    ``Store.write_run_info`` refuses another series under a used run name.
    """
    changes = [c for t in tasks if (c := prompt_changes(store, run, t.name, task_hashes(t))) is not None]
    if changes and not reevaluate:
        raise CkptlensError(
            f"{changes[0].describe()}: the task changed since it was evaluated; pass --reevaluate to re-evaluate "
            f"and replace its {len(changes[0].checkpoints)} stored unit(s), or give the edited task a new name"
        )
    store.write_run_info(run, info)
    for change in changes:
        for checkpoint in change.checkpoints:
            store.remove_unit(run, checkpoint, change.task)


def task_hashes(task: Task) -> dict[str, str]:
    """Example id -> prompt hash, as the records of ``task`` store them."""
    return {e.id: prompt_hash(e.context) for e in task.examples}


def _source_info(series_dir: str | Path, checkpoints: list[Checkpoint], window: int | None) -> dict:
    """``run_info`` for a folder, the bare series id for a Hub repo; in-memory averages link to their base."""
    info = {"series": series_id(series_dir), "checkpoints": [c.name for c in checkpoints]}
    if not is_hub_spec(series_dir):
        info = run_info(Path(series_dir), checkpoints)
    if window:
        base = series_id(series_dir)
        info = {**info, "series": f"{base}#average-window={window}", "averaged_from": base, "window": window}
    return info


def _averaged(
    source: list[Checkpoint], window: int, last: float | None, config: EvalConfig
) -> tuple[list[Checkpoint], Loader]:
    """The checkpoints that end a window (in the final ``last`` of training when given) and their loader."""
    steps = None if last is None else window_ends_in_last(source, window, last)
    return averaged_checkpoints(source, window, steps), window_average_loader(source, window, config, steps)


def run_info(series_dir: Path, checkpoints: list[Checkpoint]) -> dict:
    """What the store keeps about a run: where it came from, and its training curve when known."""
    manifest = series_manifest(series_dir)
    info = {"series": str(series_dir.resolve()), "checkpoints": [c.name for c in checkpoints]}
    if manifest.get("method") == "average":
        source = manifest_source(series_dir)
        info["averaged_from"] = manifest["source"] if source is None else str(source)  # a local folder or hf://
        info["window"] = int(manifest["window"])
    for key in ("n_params", "seed"):
        if key in manifest:
            info[key] = manifest[key]
    curve = [
        {k: row.get(k) for k in ("step", "tokens_seen", "train_loss", "val_loss")}
        for row in manifest.get("checkpoints", [])
        if "val_loss" in row or "train_loss" in row
    ]
    if curve:
        info["loss_curve"] = curve
    return info
