"""The Ray executor: evaluation pieces fanned out over a Ray cluster, every worker writing into one store.

A piece is a (checkpoint, task) unit, or one shard of it when the task has more
than ``EvalConfig.shard_size`` examples. Each piece is one Ray task on one
worker: it claims the piece in the store, loads the checkpoint, evaluates the
piece, renames its file into place and releases the claim. A piece the store
already holds, written by any writer, is never redone. Ray re-runs a task whose
worker died (``max_retries``); the re-run finds the dead worker's claim stale (at
once on the same node, after ``claims.STALE_AFTER_SECONDS`` on another) and takes
it over. The driver merges a sharded unit once all its shards are stored. A task
asks for one GPU when the cluster has GPUs, else for one CPU.

Every node must have ckptlens installed and see the series and the store at the
same paths (shared storage). Ray is imported only here, and only when used: it
is the optional extra ``pip install ckptlens[ray]``.

On a cluster, ``evaluate_on_ray(discover_series("/shared/runs/demo"), tasks, Store("/shared/store"), "demo",
cluster=RayOptions(address="auto"))`` returns an ``EvalSummary`` like ``evaluate_series``
(``tests/evaluation/test_ray_executor.py`` runs it on a local cluster). Options are checked before Ray starts:

>>> RayOptions(address="auto", max_retries=-1)
Traceback (most recent call last):
ckptlens.errors.CkptlensError: --max-retries must not be negative, got -1
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from types import ModuleType
from typing import Any

from ckptlens.checkpoints.series import Checkpoint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import (
    CLAIM_POLL_SECONDS,
    EvalConfig,
    EvalSummary,
    Loader,
    OnUnit,
    Piece,
    UnitTally,
    check_unique_names,
    claim_piece,
    evaluate_piece,
    load_from_disk,
    merge_if_complete,
    missing_pieces,
    write_piece,
)
from ckptlens.store import Claim, Shard, Store
from ckptlens.tasks.task import Task


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None  # "auto", "ray://head:10001", or None to start a local cluster
    max_retries: int = 3  # times Ray re-runs a piece whose worker died

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise CkptlensError(f"--max-retries must not be negative, got {self.max_retries}")


def evaluate_on_ray(
    checkpoints: Sequence[Checkpoint],
    tasks: Sequence[Task],
    store: Store,
    run: str,
    config: EvalConfig = EvalConfig(),
    cluster: RayOptions = RayOptions(),
    on_unit: OnUnit | None = None,
    load: Loader | None = None,
) -> EvalSummary:
    """Evaluate every checkpoint on every task on a Ray cluster; same records as ``evaluate_series``.

    ``on_unit(checkpoint, task)`` is called in this process once per unit when it is
    stored. ``load`` (run on the workers) replaces reading the checkpoint folder.
    A Ray session already open in this process is used as it is; one started here is
    shut down at the end.
    """
    check_unique_names(tasks)
    ray = _import_ray()
    started = _connect(ray, cluster.address)
    job = _Job(Store(store.root.resolve()), run, config, load or partial(load_from_disk, config))
    tally = UnitTally(on_unit)
    try:
        remote = ray.remote(_evaluate_on_worker).options(max_retries=cluster.max_retries, **_resources(ray))
        submitted = _submit_missing(ray, remote, job, checkpoints, tasks, tally)
        _collect(ray, job, submitted, tally, cluster.max_retries)
        return tally.summary()
    finally:
        if started:
            ray.shutdown()


@dataclass(frozen=True)
class _Job:
    """What every piece of one call shares; the store's root is absolute, for workers elsewhere."""

    store: Store
    run: str
    config: EvalConfig
    load: Loader

    def sharded(self, task: Task) -> bool:
        return self.config.shard_size is not None and len(task.examples) > self.config.shard_size


def _submit_missing(
    ray: ModuleType, remote: Any, job: _Job, checkpoints: Sequence[Checkpoint], tasks: Sequence[Task], tally: UnitTally
) -> dict[Any, tuple[Checkpoint, Task]]:
    """One Ray task per piece the store lacks, checkpoint by checkpoint; stored units go to ``tally`` at once."""
    job_ref, task_refs = ray.put(job), {t.name: ray.put(t) for t in tasks}
    submitted = {}
    for ckpt in (replace(c, path=Path(c.path).resolve()) for c in checkpoints):  # workers may run elsewhere
        for task in tasks:
            if job.store.has_unit(job.run, ckpt.name, task.name):
                tally.add(ckpt, task, written_here=False)
                continue
            pieces = missing_pieces(job.store, job.run, ckpt, task, job.config.shard_size)
            for piece in pieces:
                submitted[remote.remote(job_ref, ckpt, task_refs[task.name], piece.shard)] = (ckpt, task)
            if not pieces:  # every shard stored by an interrupted run: only the merge is left
                tally.add(ckpt, task, _settle(job, ckpt, task))
    return submitted


def _collect(
    ray: ModuleType, job: _Job, submitted: dict[Any, tuple[Checkpoint, Task]], tally: UnitTally, max_retries: int
) -> None:
    """Wait for the pieces as they finish; a unit whose last piece is back is settled (merged when sharded)."""
    open_pieces = Counter((ckpt.name, task.name) for ckpt, task in submitted.values())
    try:
        while submitted:
            (ref,), _ = ray.wait(list(submitted), num_returns=1)
            ckpt, task = submitted.pop(ref)
            evaluated = _outcome(ray, ref, ckpt, task, max_retries)
            tally.loaded += evaluated
            open_pieces[ckpt.name, task.name] -= 1
            if open_pieces[ckpt.name, task.name] == 0:
                tally.add(ckpt, task, _settle(job, ckpt, task) if job.sharded(task) else evaluated)
    except BaseException:
        for ref in submitted:
            ray.cancel(ref)
        raise


def _evaluate_on_worker(job: _Job, ckpt: Checkpoint, task: Task, shard: Shard | None) -> bool:
    """One piece on a Ray worker; True when evaluated here, False when another writer stored it."""
    piece = Piece(ckpt, task, shard)
    claim = _claim_when_free(job.store, job.run, piece)
    if claim is None:
        return False
    try:
        model, tokenizer = job.load(ckpt)
        write_piece(job.store, job.run, piece, evaluate_piece(model, tokenizer, piece, job.run, job.config))
    finally:
        claim.release()
    return True


def _claim_when_free(store: Store, run: str, piece: Piece) -> Claim | None:
    """Claim the piece, waiting while another live writer holds it; None once it is stored."""
    names = (run, piece.checkpoint.name, piece.task.name)
    while not store.has_unit(*names) and not store.has_unit(*names, piece.shard):
        claim = claim_piece(store, run, piece)
        if claim is not None:
            return claim
        time.sleep(CLAIM_POLL_SECONDS)
    return None


def _settle(job: _Job, ckpt: Checkpoint, task: Task) -> bool:
    """Merge a sharded unit whose pieces are all back; True when merged here (False: another writer did)."""
    while not merge_if_complete(job.store, job.run, ckpt, task, job.config.shard_size):
        if job.store.has_unit(job.run, ckpt.name, task.name):
            return False
        time.sleep(CLAIM_POLL_SECONDS)
    return True


def _outcome(ray: ModuleType, ref: Any, ckpt: Checkpoint, task: Task, max_retries: int) -> bool:
    """The piece's result; a ckptlens error stays one, a worker lost after every retry becomes one."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as err:
        if isinstance(err.cause, CkptlensError):
            raise CkptlensError(f"{ckpt.name} x {task.name}: {err.cause}") from None
        raise
    except ray.exceptions.RayError as err:
        raise CkptlensError(
            f"{ckpt.name} x {task.name}: the Ray worker was lost {max_retries + 1} times "
            f"({type(err).__name__}); see the Ray logs, or raise --max-retries"
        ) from None


def _resources(ray: ModuleType) -> dict[str, float]:
    """One GPU per piece when the cluster has GPUs, else one CPU."""
    return {"num_gpus": 1} if ray.cluster_resources().get("GPU", 0) >= 1 else {"num_cpus": 1}


def _connect(ray: ModuleType, address: str | None) -> bool:
    """Join the cluster at ``address``, or start a local one; True when this call started Ray."""
    if ray.is_initialized():
        return False
    local = {"include_dashboard": False} if address is None else {}
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", **local)
    except ConnectionError as err:
        raise CkptlensError(
            f"no Ray cluster at {address!r} ({err}); start one with `ray start --head`, or leave out --address"
        ) from None
    return True


def _import_ray() -> ModuleType:
    try:
        import ray
    except ImportError:
        raise CkptlensError("--executor ray needs Ray: pip install 'ckptlens[ray]'") from None
    return ray
