"""Evaluate a checkpoint series on tasks, one store unit per (checkpoint, task): the local executor.

The recipe reads top to bottom: for each checkpoint, find the tasks the store
lacks; if none, skip the checkpoint without loading it; else claim the missing
units, load the model once, evaluate each claimed unit and write it at once
(atomically). A run killed mid-series and restarted therefore ends with every
record exactly once. Writers sharing a store (two ``ckptlens eval`` processes,
or the Ray executor's workers) claim a unit before evaluating it; a unit another
live writer holds is left to it and looked at again after the rest, until it is
stored or its claim goes stale. With ``EvalConfig.shard_size`` a task with more
examples is evaluated in shards (a *piece* is a unit or one shard of it), each
stored when done and merged into the unit once all are there, so a large unit
resumes from its last shard.

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
import hashlib
import math
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial

import pyarrow as pa
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.checkpoints.loading import load_model, resolve_dtype
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.budget import device_batch_tokens
from ckptlens.evaluation.generation import generate_greedy, generation_rows
from ckptlens.evaluation.lm_eval_requests import evaluate_lm_eval_task
from ckptlens.evaluation.perplexity import TextLoss, text_loss
from ckptlens.evaluation.pipeline import Encodings, Prefetcher, Writer
from ckptlens.evaluation.scoring import Batching, ChoiceScores, score_encoded
from ckptlens.store import Claim, Shard, Store, records_table
from ckptlens.tasks.choice import predicted_option
from ckptlens.tasks.choice import predicted_option as argmax_first  # noqa: F401 (its earlier name, for callers)
from ckptlens.tasks.task import Example, Task

Loader = Callable[[Checkpoint], tuple[PreTrainedModel, PreTrainedTokenizerBase]]
OnUnit = Callable[[Checkpoint, Task], None]
CLAIM_POLL_SECONDS = 2.0  # how often a writer looks again at units other writers hold


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 32  # example rows (multiple choice) or generation rows per forward pass, at most
    device: str | None = None  # None: CUDA when available, else CPU
    dtype: str = "float32"  # float32 | float16 | bfloat16
    allow_pickle: bool = False  # load pytorch_model.bin weights (only for trusted folders)
    shard_size: int | None = None  # evaluate and store tasks with more examples in shards of this many
    reevaluate: bool = False  # replace stored units whose task prompts changed (else a changed task is an error)
    batch_tokens: int | None = None  # multiple choice: rows x padded length per pass, at most (None: by device)
    prefetch: bool = True  # load checkpoint t+1 while t is scored (two models in memory at once)

    def __post_init__(self) -> None:
        if self.shard_size is not None and self.shard_size < 1:
            raise CkptlensError(f"--shard-size must be at least 1 example, got {self.shard_size}")
        Batching(self.batch_size, self.batch_tokens)  # checks both
        resolve_dtype(self.dtype)


@dataclass(frozen=True)
class EvalSummary:
    units_done: int  # (checkpoint, task) units evaluated and written now
    units_skipped: int  # units already in the store, or stored meanwhile by another writer
    models_loaded: int


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
    series = _Series(store, run, config, Prefetcher(load or partial(load_from_disk, config), config.prefetch),
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

    store: Store
    run: str
    config: EvalConfig
    prefetcher: Prefetcher
    writer: Writer
    encodings: Encodings
    tally: UnitTally


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


def evaluate_piece(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    piece: Piece,
    run: str,
    config: EvalConfig,
    encodings: Encodings | None = None,
) -> pa.Table:
    """The records of one piece, with their run/checkpoint/task keys (``encodings``: reuse a series' token ids)."""
    task = piece.examples_task(config.shard_size)
    rows = evaluate_task(model, tokenizer, task, config.batch_size, config.batch_tokens, encodings)
    check_finite(rows, piece)
    return records_table(_with_unit_keys(rows, run, piece.checkpoint, piece.task))


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
        if self._record(ckpt, task, written_here):
            _notify(self.on_unit, ckpt, task)

    def add_quietly(self, ckpt: Checkpoint, task: Task, written_here: bool) -> None:
        """From the background writer: counted now, told to ``on_unit`` by the next ``report`` (main thread)."""
        if self._record(ckpt, task, written_here):
            with self._lock:
                self._unreported.append((ckpt, task))

    def report(self) -> None:
        """Tell ``on_unit`` about the units the writer stored, on the calling thread (a callback may raise)."""
        with self._lock:
            units, self._unreported = self._unreported, []
        for ckpt, task in units:
            _notify(self.on_unit, ckpt, task)

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
    store, run, config, tally = series.store, series.run, series.config, series.tally
    for task in tasks:
        if store.has_unit(run, ckpt.name, task.name):
            store.drop_stale_claim(run, ckpt.name, task.name)
            tally.add(ckpt, task, written_here=False)
    open_tasks = [t for t in tasks if not tally.has(ckpt, t)]
    pieces = [p for t in open_tasks for p in missing_pieces(store, run, ckpt, t, config.shard_size)]
    claims = [(p, c) for p in pieces if (c := claim_piece(store, run, p)) is not None]
    queued: set[int] = set()
    try:
        if claims:
            model, tokenizer = series.prefetcher.get(ckpt)
            tally.loaded += 1
            upcoming = next((c for c in later if not all(store.has_unit(run, c.name, t.name) for t in tasks)), None)
            if upcoming is not None:
                series.prefetcher.start(upcoming)
            for i, (piece, claim) in enumerate(claims):
                table = evaluate_piece(model, tokenizer, piece, run, config, series.encodings)
                if piece.shard is None:
                    tally.writing.add((ckpt.name, piece.task.name))
                queued.add(i)  # from here the writer's job releases the claim
                series.writer.submit(partial(_store_piece, series, piece, table, claim))
                tally.report()
            scored = weakref.ref(model)
            del model, tokenizer
            _collect_if_held(scored)
    finally:
        for i, (_, claim) in enumerate(claims):
            if i not in queued:
                claim.release()
    if any(p.shard is not None for p, _ in claims):
        series.writer.flush()  # merging below needs this writer's shards on disk
    for task in open_tasks:  # shards all stored, by others too: merge them
        if merge_if_complete(store, run, ckpt, task, config.shard_size):
            tally.add(ckpt, task, written_here=True)
    tally.report()
    return all(tally.has(ckpt, t) for t in tasks)


def _store_piece(series: _Series, piece: Piece, table: pa.Table, claim: Claim) -> None:
    """The background writer's job: write a piece atomically, merge its unit when complete, release its claim."""
    try:
        write_piece(series.store, series.run, piece, table)
        if piece.shard is None or merge_if_complete(series.store, series.run, piece.checkpoint, piece.task,
                                                    series.config.shard_size):  # fmt: skip
            series.tally.add_quietly(piece.checkpoint, piece.task, written_here=True)
    finally:
        claim.release()


def evaluate_task(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    batch_size: int = 32,
    batch_tokens: int | None = None,
    encodings: Encodings | None = None,
) -> list[dict]:
    """One record row per example of ``task`` (without run/checkpoint keys), in example order.

    ``batch_tokens`` None picks the device's budget (``device_batch_tokens``: 2048 on CPU, free memory on CUDA).
    """
    dtype = str(model.dtype).removeprefix("torch.")
    if task.lm_eval is not None:
        rows = evaluate_lm_eval_task(model, tokenizer, task, batch_size, batch_tokens or device_batch_tokens(model))
    elif task.kind == "multiple_choice":
        encoded = (encodings or Encodings()).get(tokenizer, task.name, task.examples)
        batching = Batching(batch_size, batch_tokens or device_batch_tokens(model))
        scores = score_encoded(model, task.examples, encoded, batching)
        rows = [_choice_row(e, s) for e, s in zip(task.examples, scores, strict=True)]
    elif task.kind == "perplexity":
        losses = text_loss(model, tokenizer, [e.context for e in task.examples], batch_size)
        rows = [_perplexity_row(e, loss) for e, loss in zip(task.examples, losses, strict=True)]
    else:
        outputs = generate_greedy(model, tokenizer, task.examples, task.stop, task.max_new_tokens, batch_size,
                                  batch_tokens=batch_tokens)
        rows = generation_rows(task, task.examples, outputs)
    return [
        {"prompt_hash": prompt_hash(e.context), "task_version": task.version, **row, "dtype": dtype}
        for e, row in zip(task.examples, rows, strict=True)
    ]


def prompt_hash(context: str) -> str:
    """SHA-256 of the context in hex: spots prompts that changed between runs.

    For an lm-eval task the context is the document's first request's, so this is the ``prompt_hash`` that
    ``lm_eval --log_samples`` writes (its ``hash_string(requests[0].arguments[0])``). Stores written before
    kept the first 16 digits; ``store.same_prompt`` compares the two.

    >>> prompt_hash("Q: 2+2?\\nA:")
    '8dad61487a044e91083bb88da637daa31430311c6f6ee1c97d5c6cb5f6c1e3aa'
    """
    return hashlib.sha256(context.encode("utf-8")).hexdigest()


def _choice_row(example: Example, scores: ChoiceScores) -> dict:
    pred = predicted_option(scores.logliks)
    correct = pred == example.gold
    return {
        "example_id": example.id,
        "logliks": scores.logliks,
        "choice_tokens": scores.n_tokens,
        "pred": pred,
        "gold": example.gold,
        "output": example.choices[pred],
        "target": example.choices[example.gold] if example.gold is not None else None,
        "correct": correct,
        "score": float(correct),
    }


def _perplexity_row(example: Example, loss: TextLoss) -> dict:
    return {"example_id": example.id, "nll": loss.nll, "n_tokens": loss.tokens, "n_bytes": loss.bytes}


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


def _notify(on_unit: OnUnit | None, ckpt: Checkpoint, task: Task) -> None:
    if on_unit is not None:
        on_unit(ckpt, task)
