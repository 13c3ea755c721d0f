"""One unit of work, as every executor runs it: claim -> evaluate -> write (``run_unit``).

A unit is a (checkpoint, task) pair of a run; a *piece* is a unit, or one shard
of it when the task has more than ``EvalConfig.shard_size`` examples. Writers
sharing a store (two ``ckptlens eval`` processes, Ray workers, a watch) claim a
piece before evaluating it, write it atomically, merge a sharded unit once all
its shards are stored (the merge is claimed too) and release the claim. With
``EvalConfig.representations``, a piece's hidden states (``store.representations``)
are written just before its records, so a stored unit always has its states. The
local executor (``runner``), the Ray executor (``ray_executor``) and watch mode
differ only in where the model comes from and which thread writes.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import pyarrow as pa
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.checkpoints.loading import load_model
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.config import EvalConfig, EvalSummary
from ckptlens.evaluation.context_states import ContextStates
from ckptlens.evaluation.pipeline import Encodings
from ckptlens.evaluation.rows import evaluate_task
from ckptlens.store import Claim, Shard, Store, records_table
from ckptlens.store.representations import States, StateSettings, compress, write_states
from ckptlens.tasks.task import Task

Loader = Callable[[Checkpoint], tuple[PreTrainedModel, PreTrainedTokenizerBase]]
OnUnit = Callable[[Checkpoint, Task], None]
CLAIM_POLL_SECONDS = 2.0  # how often a writer looks again at units other writers hold


@dataclass(frozen=True)
class UnitJob:
    """What every unit of one evaluation shares (picklable: Ray ships it to its workers)."""

    store: Store
    run: str
    config: EvalConfig


@dataclass(frozen=True)
class Piece:
    """Work for one writer: a (checkpoint, task) unit, or one shard of it."""

    checkpoint: Checkpoint
    task: Task
    shard: Shard | None = None

    def examples_task(self, shard_size: int | None) -> Task:
        """The task restricted to this piece's examples (the whole task for an unsharded unit)."""
        if self.shard is None or shard_size is None:
            return self.task
        start = self.shard.index * shard_size
        return replace(self.task, examples=self.task.examples[start : start + shard_size])


def run_unit(
    job: UnitJob, piece: Piece, claim: Claim, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase,
    encodings: Encodings | None = None, submit: Callable[[Callable[[], None]], None] | None = None,
    on_stored: OnUnit | None = None,
) -> None:
    """Evaluate a claimed piece, then write it: ``submit`` runs the write (now when None, or on a background writer).

    The write stores the piece atomically, merges its unit when this was the last shard, tells
    ``on_stored(checkpoint, task)`` once the unit is whole, and releases the claim, also on failure.
    """
    try:
        table, states = evaluate_piece(model, tokenizer, piece, job.run, job.config, encodings)
    except BaseException:
        claim.release()
        raise
    write = partial(store_piece, job, piece, table, claim, on_stored, states)
    if submit is None:
        write()
    else:
        submit(write)


def store_piece(job: UnitJob, piece: Piece, table: pa.Table, claim: Claim, on_stored: OnUnit | None = None,
                states: States | None = None) -> None:  # fmt: skip
    """Write a piece atomically (its hidden states first, when kept), merge its unit when complete, release its
    claim."""
    try:
        if states is not None:
            write_states(job.store, job.run, piece.task.name, piece.checkpoint.name, states, piece.shard)
        write_piece(job.store, job.run, piece, table)
        complete = piece.shard is None or merge_if_complete(job.store, job.run, piece.checkpoint, piece.task,
                                                            job.config.shard_size)  # fmt: skip
        if complete and on_stored is not None:
            on_stored(piece.checkpoint, piece.task)
    finally:
        claim.release()


def shards_of(task: Task, shard_size: int | None) -> list[Shard | None]:
    """``[None]`` (one whole unit) unless the task has more than ``shard_size`` examples."""
    if shard_size is None or len(task.examples) <= shard_size:
        return [None]
    count = math.ceil(len(task.examples) / shard_size)
    return [Shard(i, count) for i in range(count)]


def missing_pieces(store: Store, run: str, ckpt: Checkpoint, task: Task, shard_size: int | None) -> list[Piece]:
    """The pieces of an unstored unit that the store lacks (none when only the merge is left)."""
    shards = shards_of(task, shard_size)
    return [Piece(ckpt, task, s) for s in shards if not store.has_unit(run, ckpt.name, task.name, s)]


def claim_piece(store: Store, run: str, piece: Piece) -> Claim | None:
    return store.claim_unit(run, piece.checkpoint.name, piece.task.name, piece.shard)


def claim_when_free(store: Store, run: str, piece: Piece) -> Claim | None:
    """Claim the piece, waiting while another live writer holds it; None once it is stored."""
    names = (run, piece.checkpoint.name, piece.task.name)
    while not store.has_unit(*names) and not store.has_unit(*names, piece.shard):
        claim = claim_piece(store, run, piece)
        if claim is not None:
            return claim
        time.sleep(CLAIM_POLL_SECONDS)
    return None


def evaluate_piece(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    piece: Piece,
    run: str,
    config: EvalConfig,
    encodings: Encodings | None = None,
) -> tuple[pa.Table, States | None]:
    """The records of one piece, with their run/checkpoint/task keys (``encodings``: reuse a series' token ids),
    and its contexts' hidden states as stored when ``config.representations`` asks for them (None otherwise)."""
    task = piece.examples_task(config.shard_size)
    collector = state_collector(model, task, config.representations)
    rows = evaluate_task(model, tokenizer, task, config.batch_size, config.batch_tokens, encodings, collector)
    check_finite(rows, piece)
    states = None if collector is None else compress(piece.checkpoint.step, [e.id for e in task.examples],
                                                      collector.layers, collector.result(), config.representations)
    return records_table(_with_unit_keys(rows, run, piece.checkpoint, piece.task)), states


def state_collector(model: PreTrainedModel, task: Task, settings: StateSettings | None) -> ContextStates | None:
    """A collector of the task's context states at the layers ``settings`` asks for (None: not asked, or a
    perplexity task, which has no prompts)."""
    if settings is None or task.kind == "perplexity":
        return None
    layers = settings.resolve(model.config.get_text_config().num_hidden_layers, "--layers")
    return ContextStates(layers, len(task.examples))


def check_finite(rows: list[dict], piece: Piece) -> None:
    """Refuse NaN or infinite log-likelihoods: scored, a NaN row would count as choosing option 0.

    The whole evaluation stops (nothing of the unit is stored) with the checkpoint named, since
    non-finite log-likelihoods come from non-finite weights or an overflowing dtype, which no
    other unit of that checkpoint escapes.
    """
    for row in rows:
        values = [*(row.get("logliks") or ()), *([row["nll"]] if row.get("nll") is not None else [])]
        if not all(math.isfinite(v) for v in values):
            raise CkptlensError(
                f"checkpoint {piece.checkpoint.path}: non-finite log-likelihoods on task {piece.task.name!r} "
                f"(example {row['example_id']}); its weights hold NaN/inf or --dtype overflows: "
                "fix or remove the checkpoint, or try --dtype float32"
            )


def write_piece(store: Store, run: str, piece: Piece, table: pa.Table) -> None:
    store.write_unit(run, piece.checkpoint.name, piece.task.name, table, piece.shard)


def merge_if_complete(store: Store, run: str, ckpt: Checkpoint, task: Task, shard_size: int | None) -> bool:
    """Merge a sharded unit whose shards are all stored; True when this call wrote the unit.

    The merge is claimed like a unit, so two writers never merge one unit at once.
    """
    shards = shards_of(task, shard_size)
    if shards == [None] or not all(store.has_unit(run, ckpt.name, task.name, s) for s in shards):
        return False
    claim = store.claim_unit(run, ckpt.name, task.name)
    if claim is None:
        return False
    try:
        if store.has_unit(run, ckpt.name, task.name):
            return False
        store.merge_shards(run, ckpt.name, task.name, len(shards))
        return True
    finally:
        claim.release()


class UnitTally:
    """Counts units as they reach the store, notifying ``on_unit`` once per unit."""

    def __init__(self, on_unit: OnUnit | None):
        self.on_unit = on_unit
        self.stored: set[tuple[str, str]] = set()
        self.writing: set[tuple[str, str]] = set()  # units queued for the background writer
        self.done = self.skipped = self.loaded = 0
        self._unreported: list[tuple[Checkpoint, Task]] = []  # stored by the writer, not yet told to on_unit
        self._lock = threading.Lock()  # the background writer adds units too

    def add(self, ckpt: Checkpoint, task: Task, written_here: bool) -> None:
        if self._record(ckpt, task, written_here) and self.on_unit is not None:
            self.on_unit(ckpt, task)

    def add_quietly(self, ckpt: Checkpoint, task: Task) -> None:
        """From the background writer: written here, counted now, told to ``on_unit`` by the next ``report``."""
        if self._record(ckpt, task, True):
            with self._lock:
                self._unreported.append((ckpt, task))

    def report(self) -> None:
        """Tell ``on_unit`` about the units the writer stored, on the calling thread (a callback may raise)."""
        with self._lock:
            units, self._unreported = self._unreported, []
        for ckpt, task in units:
            if self.on_unit is not None:
                self.on_unit(ckpt, task)

    def _record(self, ckpt: Checkpoint, task: Task, written_here: bool) -> bool:
        with self._lock:
            if (ckpt.name, task.name) in self.stored:
                return False
            self.stored.add((ckpt.name, task.name))
            self.done += written_here
            self.skipped += not written_here
            return True

    def has(self, ckpt: Checkpoint, task: Task) -> bool:
        """Stored, or queued for writing by this process."""
        with self._lock:
            return (ckpt.name, task.name) in self.stored | self.writing

    def summary(self) -> EvalSummary:
        return EvalSummary(self.done, self.skipped, self.loaded)


def _with_unit_keys(rows: list[dict], run: str, ckpt: Checkpoint, task: Task) -> list[dict]:
    keys = {
        "run": run,
        "checkpoint": ckpt.name,
        "step": ckpt.step,
        "tokens_seen": ckpt.tokens_seen,
        "task": task.name,
        "category": task.category,
        "kind": task.kind,
    }
    return [{**keys, **row} for row in rows]


def check_unique_names(tasks: Sequence[Task]) -> None:
    names = [t.name for t in tasks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CkptlensError(f"several tasks share the name {duplicated[0]!r}; give each task its own name")


def load_from_disk(config: EvalConfig, ckpt: Checkpoint) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    return load_model(ckpt.path, config.device, config.dtype, config.allow_pickle)
