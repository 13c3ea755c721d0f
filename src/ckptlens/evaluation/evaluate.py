"""Evaluate a series folder on tasks into a store: what ``ckptlens eval`` does.

>>> evaluate("runs/demo", ["facts", "sums"], Store("out/store"))  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

from ckptlens.checkpoints import Checkpoint, discover_series
from ckptlens.evaluation.builtin import resolve_tasks, series_manifest
from ckptlens.evaluation.runner import EvalConfig, EvalSummary, evaluate_series
from ckptlens.evaluation.task import Task
from ckptlens.store import Store


def evaluate(
    series_dir: str | Path,
    tasks: Sequence[str | Task],
    store: Store,
    run: str | None = None,
    config: EvalConfig = EvalConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> EvalSummary:
    """Evaluate every checkpoint in ``series_dir`` on ``tasks``; the run is named after the folder by default.

    ``progress(done, total)`` counts (checkpoint, task) units, finished or skipped.

    The store records what the run is: its series folder, and for an averaged
    series (written by ``ckptlens average``) the series it was averaged from
    and the window, so the stability table can put averages beside raw rows.
    """
    series_dir = Path(series_dir)
    checkpoints = discover_series(series_dir)
    task_list = [t for spec in tasks for t in ([spec] if isinstance(spec, Task) else resolve_tasks([spec], series_dir))]
    run = run or series_dir.resolve().name
    store.write_run_info(run, run_info(series_dir, checkpoints))
    total, done = len(checkpoints) * len(task_list), iter(range(1, len(checkpoints) * len(task_list) + 1))
    on_unit = None if progress is None else (lambda checkpoint, task: progress(next(done), total))
    return evaluate_series(checkpoints, task_list, store, run, config, on_unit=on_unit)


def run_info(series_dir: Path, checkpoints: list[Checkpoint]) -> dict:
    """What the store keeps about a run: where it came from, and its training curve when known."""
    manifest = series_manifest(series_dir)
    info = {"series": str(series_dir.resolve()), "checkpoints": [c.name for c in checkpoints]}
    if manifest.get("method") == "average":
        info["averaged_from"] = str(Path(manifest["source"]).resolve())
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
