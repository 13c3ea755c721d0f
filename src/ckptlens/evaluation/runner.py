"""Evaluate a checkpoint series on tasks, one store unit per (checkpoint, task).

The recipe reads top to bottom: for each checkpoint, find the tasks the store
lacks; if none, skip the checkpoint without loading it; else load the model
once, evaluate each missing task and write its unit at once (atomically). A run
killed mid-series and restarted therefore ends with every record exactly once.

>>> from ckptlens.checkpoints import discover_series  # doctest: +SKIP
>>> from ckptlens.evaluation.task_file import load_task  # doctest: +SKIP
>>> from ckptlens.store import Store  # doctest: +SKIP
>>> evaluate_series(discover_series("runs/demo"), [load_task("tasks/capitals.jsonl")],
...                 Store("store"), run="demo")  # doctest: +SKIP
EvalSummary(units_done=8, units_skipped=0, models_loaded=4)
"""

from __future__ import annotations

import gc
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.checkpoints.loading import load_model
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.generation import exact_match, generate_greedy
from ckptlens.evaluation.perplexity import TextLoss, text_loss
from ckptlens.evaluation.scoring import ChoiceScores, score_multiple_choice
from ckptlens.evaluation.task import Example, Task
from ckptlens.store import Store, records_table

Loader = Callable[[Checkpoint], tuple[PreTrainedModel, PreTrainedTokenizerBase]]
OnUnit = Callable[[Checkpoint, Task], None]


@dataclass(frozen=True)
class EvalConfig:
    batch_size: int = 32  # (example, choice) rows or generation rows per forward pass
    device: str | None = None  # None: CUDA when available, else CPU
    dtype: str = "float32"  # float32 | float16 | bfloat16
    allow_pickle: bool = False  # load pytorch_model.bin weights (only for trusted folders)


@dataclass(frozen=True)
class EvalSummary:
    units_done: int  # (checkpoint, task) units evaluated and written now
    units_skipped: int  # units already in the store
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
    task)`` is called after each unit, done or skipped (a progress bar).
    """
    _check_unique_names(tasks)
    load = load or partial(_load_from_disk, config)
    done = skipped = loaded = 0
    for ckpt in checkpoints:
        stored = {t.name for t in tasks if store.has_unit(run, ckpt.name, t.name)}
        for task in tasks:
            if task.name in stored:
                skipped += 1
                _notify(on_unit, ckpt, task)
        missing = [t for t in tasks if t.name not in stored]
        if not missing:
            continue
        model, tokenizer = load(ckpt)
        loaded += 1
        for task in missing:
            rows = evaluate_task(model, tokenizer, task, config.batch_size)
            store.write_unit(run, ckpt.name, task.name, records_table(_with_unit_keys(rows, run, ckpt, task)))
            done += 1
            _notify(on_unit, ckpt, task)
        del model, tokenizer
        gc.collect()
    return EvalSummary(done, skipped, loaded)


def evaluate_task(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, task: Task, batch_size: int = 32
) -> list[dict]:
    """One record row per example of ``task`` (without run/checkpoint keys), in example order."""
    dtype = str(model.dtype).removeprefix("torch.")
    if task.kind == "multiple_choice":
        scores = score_multiple_choice(model, tokenizer, task.examples, batch_size)
        rows = [_choice_row(e, s) for e, s in zip(task.examples, scores, strict=True)]
    elif task.kind == "perplexity":
        losses = text_loss(model, tokenizer, [e.context for e in task.examples], batch_size)
        rows = [_perplexity_row(e, loss) for e, loss in zip(task.examples, losses, strict=True)]
    else:
        outputs = generate_greedy(model, tokenizer, task.examples, task.stop, task.max_new_tokens, batch_size)
        rows = [_generation_row(e, out) for e, out in zip(task.examples, outputs, strict=True)]
    return [
        {**row, "prompt_hash": prompt_hash(e.context), "dtype": dtype}
        for e, row in zip(task.examples, rows, strict=True)
    ]


def prompt_hash(context: str) -> str:
    """First 16 hex digits of the SHA-256 of the context: spots prompts that changed between runs.

    >>> prompt_hash("Q: 2+2?\\nA:")
    '8dad61487a044e91'
    """
    return hashlib.sha256(context.encode("utf-8")).hexdigest()[:16]


def argmax_first(values: Sequence[float]) -> int:
    """Index of the largest value; ties go to the lowest index.

    >>> argmax_first([-2.0, -1.0, -1.0])
    1
    """
    return max(range(len(values)), key=lambda i: (values[i], -i))


def _choice_row(example: Example, scores: ChoiceScores) -> dict:
    pred = argmax_first(scores.logliks)
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


def _generation_row(example: Example, output: str) -> dict:
    score = exact_match(output, example.target) if example.target is not None else None
    return {
        "example_id": example.id,
        "output": output,
        "target": example.target,
        "correct": None if score is None else score == 1.0,
        "score": score,
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


def _check_unique_names(tasks: Sequence[Task]) -> None:
    names = [t.name for t in tasks]
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise CkptlensError(f"several tasks share the name {duplicated[0]!r}; give each task its own name")


def _load_from_disk(config: EvalConfig, ckpt: Checkpoint) -> tuple[PreTrainedModel, PreTrainedTokenizerBase]:
    return load_model(ckpt.path, config.device, config.dtype, config.allow_pickle)


def _notify(on_unit: OnUnit | None, ckpt: Checkpoint, task: Task) -> None:
    if on_unit is not None:
        on_unit(ckpt, task)
