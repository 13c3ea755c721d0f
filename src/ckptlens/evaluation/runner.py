"""The local executor: a checkpoint series evaluated in this process, one store unit per (checkpoint, task).

The recipe reads top to bottom: for each checkpoint, find the tasks the store
lacks; if none, skip the checkpoint without loading it; else claim the missing
pieces, load the model once and run each claimed piece (``units.run_unit``:
evaluate, then write atomically). A run killed mid-series and restarted
therefore ends with every record exactly once. A unit another live writer holds
is left to it and looked at again after the rest, until it is stored or its
claim goes stale.

The series runs as one pipeline (``pipeline``): each task is tokenised once
for all checkpoints sharing a tokenizer, checkpoint t+1 loads in the background
while t is scored (``EvalConfig.prefetch``), and records are written by a
background thread that also releases each unit's claim once it is on disk.

>>> from ckptlens.checkpoints import discover_series
>>> from ckptlens.tasks.task_file import load_task
>>> from ckptlens.store import Store
>>> evaluate_series(discover_series("runs/demo"), [load_task("tasks/capitals.jsonl")],
...                 Store("new-store"), run="demo")
EvalSummary(units_done=6, units_skipped=0, models_loaded=6)

Run again, everything is skipped and no model is loaded:

>>> evaluate_series(discover_series("runs/demo"), [load_task("tasks/capitals.jsonl")],
...                 Store("new-store"), run="demo")
EvalSummary(units_done=0, units_skipped=6, models_loaded=0)
"""

from __future__ import annotations

import gc
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from functools import partial

from ckptlens.checkpoints.series import Checkpoint
from ckptlens.evaluation.config import EvalConfig, EvalSummary
from ckptlens.evaluation.pipeline import Encodings, Prefetcher, Writer
from ckptlens.evaluation.rows import evaluate_task, prompt_hash
from ckptlens.evaluation.units import (
    CLAIM_POLL_SECONDS,
    Loader,
    OnUnit,
    Piece,
    UnitJob,
    UnitTally,
    check_finite,
    check_unique_names,
    claim_piece,
    load_from_disk,
    merge_if_complete,
    missing_pieces,
    run_unit,
)
from ckptlens.store import Store
from ckptlens.tasks.task import Task

__all__ = [  # the names this module has always offered (the unit step now lives in ``units``, rows in ``rows``)
    "CLAIM_POLL_SECONDS", "EvalConfig", "EvalSummary", "Loader", "OnUnit", "Piece", "check_finite",
    "check_unique_names", "evaluate_series", "evaluate_task", "prompt_hash",
]  # fmt: skip


def evaluate_series(
    checkpoints: Sequence[Checkpoint],
    tasks: Sequence[Task],
    store: Store,
    run: str,
    config: EvalConfig = EvalConfig(),
    on_unit: OnUnit | None = None,
    load: Loader | None = None,
) -> EvalSummary:
    """Evaluate every checkpoint on every task, skipping units the store already has.

    ``load(checkpoint) -> (model, tokenizer)`` replaces reading the folder,
    e.g. to evaluate averaged models held in memory. ``on_unit(checkpoint,
    task)`` is called once per unit when it is in the store, done or skipped
    (a progress bar). Returns when every unit is stored.
    """
    check_unique_names(tasks)
    series = _Series(UnitJob(store, run, config), Prefetcher(load or partial(load_from_disk, config), config.prefetch),
                     Writer(), Encodings(), UnitTally(on_unit))  # fmt: skip
    waiting = list(checkpoints)
    try:
        while True:
            waiting = [c for i, c in enumerate(waiting) if not _evaluate_checkpoint(c, tasks, series, waiting[i + 1 :])]
            if not waiting:
                series.writer.flush()
                series.tally.report()
                return series.tally.summary()
            time.sleep(CLAIM_POLL_SECONDS)
    except BaseException:
        series.writer.close(raise_error=False)  # queued records are still written; the first error is the one raised
        raise
    finally:
        series.prefetcher.close()
        series.writer.close()


@dataclass(frozen=True)
class _Series:
    """What one ``evaluate_series`` call shares across its checkpoints."""

    job: UnitJob
    prefetcher: Prefetcher
    writer: Writer
    encodings: Encodings
    tally: UnitTally


def _collect_if_held(model: weakref.ref) -> None:
    """Once its last reference is dropped, a scored model is freed before the next one grows memory, unless a
    reference cycle holds it: only then is a full collection (a quarter second over transformers' objects) worth it."""
    if model() is not None:
        gc.collect()


def _evaluate_checkpoint(ckpt: Checkpoint, tasks: Sequence[Task], series: _Series, later: list[Checkpoint]) -> bool:
    """Evaluate what this writer can claim of ``ckpt``'s missing units; True when all its units are stored or queued.

    Once its model is there, the next checkpoint with work left starts loading; each piece's records go to the
    background writer, which releases the piece's claim when they are on disk.
    """
    (store, run, config), tally = (series.job.store, series.job.run, series.job.config), series.tally
    for task in tasks:
        if store.has_unit(run, ckpt.name, task.name):
            store.drop_stale_claim(run, ckpt.name, task.name)
            tally.add(ckpt, task, written_here=False)
    open_tasks = [t for t in tasks if not tally.has(ckpt, t)]
    pieces = [p for t in open_tasks for p in missing_pieces(store, run, ckpt, t, config.shard_size)]
    claims = [(p, c) for p in pieces if (c := claim_piece(store, run, p)) is not None]
    if claims:
        _run_claimed(ckpt, claims, series, next((c for c in later if not _all_stored(store, run, c, tasks)), None))
    if any(p.shard is not None for p, _ in claims):
        series.writer.flush()  # merging below needs this writer's shards on disk
    for task in open_tasks:  # shards all stored, by others too: merge them
        if merge_if_complete(store, run, ckpt, task, config.shard_size):
            tally.add(ckpt, task, written_here=True)
    tally.report()
    return all(tally.has(ckpt, t) for t in tasks)


def _run_claimed(ckpt: Checkpoint, claims: list, series: _Series, upcoming: Checkpoint | None) -> None:
    """Load ``ckpt`` (starting ``upcoming``'s load), then run each claimed piece; unrun claims are released."""
    started = 0
    try:
        model, tokenizer = series.prefetcher.get(ckpt)
        series.tally.loaded += 1
        if upcoming is not None:
            series.prefetcher.start(upcoming)
        for piece, claim in claims:
            if piece.shard is None:
                series.tally.writing.add((ckpt.name, piece.task.name))
            started += 1  # from here run_unit releases the claim
            run_unit(series.job, piece, claim, model, tokenizer, series.encodings, series.writer.submit,
                     series.tally.add_quietly)  # fmt: skip
            series.tally.report()
        scored = weakref.ref(model)
        del model, tokenizer
        _collect_if_held(scored)
    finally:
        for _, claim in claims[started:]:
            claim.release()


def _all_stored(store: Store, run: str, ckpt: Checkpoint, tasks: Sequence[Task]) -> bool:
    return all(store.has_unit(run, ckpt.name, t.name) for t in tasks)
