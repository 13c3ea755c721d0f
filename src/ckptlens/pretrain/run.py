"""The demo pretraining run, top to bottom: world → corpus → tokenizer → model → train → checkpoints.

``pretrain(PretrainConfig.tiny(), "runs/tiny")`` writes ten checkpoints in seconds
(``tests/pretrain/``). An output folder that is already used is refused before training starts:

>>> import pathlib
>>> from ckptlens.pretrain import PretrainConfig, pretrain
>>> _ = pathlib.Path("used").mkdir(); _ = pathlib.Path("used/file").write_text("x")
>>> pretrain(PretrainConfig.tiny(), "used")  # doctest: +ELLIPSIS
Traceback (most recent call last):
ckptlens.errors.CkptlensError: ...
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
import transformers

from ckptlens.errors import CkptlensError
from ckptlens.pretrain.checkpoint import save_checkpoint, write_manifest
from ckptlens.pretrain.config import PretrainConfig
from ckptlens.pretrain.data import (
    TokenStreams,
    check_long_enough,
    random_batch,
    tokenize_corpus,
    validation_batches,
)
from ckptlens.pretrain.model import build_model, build_optimizer, learning_rate_at
from ckptlens.pretrain.tokenizer import train_word_tokenizer
from ckptlens.tasks.task_file import save_task
from ckptlens.world import answer_words, build_world, builtin_tasks, generate_documents

Progress = Callable[[int, int, float], None]
TASKS_FOLDER = "tasks"


def pretrain(config: PretrainConfig, out_dir: str | Path, progress: Progress | None = None) -> Path:
    """Pretrain the demo model and write its checkpoint series to ``out_dir``; returns ``out_dir``.

    Writes ``step{step:06d}/`` Hugging Face folders every ``config.save_every``
    steps, ``manifest.json`` (refreshed after every checkpoint) and the built-in
    tasks in ``tasks/``. ``progress(step, total_steps, train_loss)`` is called
    after every step.
    """
    out_dir = _prepare_out_dir(Path(out_dir))
    torch.set_num_threads(config.num_threads)
    world = build_world(config.seed)
    for task in builtin_tasks(world):
        save_task(task, out_dir / TASKS_FOLDER)
    documents = generate_documents(world, config.n_documents, seed=config.seed)
    tokenizer = train_word_tokenizer([*documents, answer_words(world)])
    streams = tokenize_corpus(documents, tokenizer, config.val_fraction)
    check_long_enough(streams, config.context_length)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model = build_model(config, tokenizer).to(device)
    manifest = {
        "run": config.run_name,
        "seed": config.seed,
        "config": config.to_dict(),
        "n_params": sum(p.numel() for p in model.parameters()),
        "checkpoints": [],
    }
    with _quiet_transformers():
        for step, train_loss in _train(model, streams, config, device, progress):
            row = _checkpoint_row(step, train_loss, model, streams, config, device)
            save_checkpoint(model, tokenizer, out_dir, step)
            manifest["checkpoints"].append(row)
            write_manifest(out_dir, manifest)
    return out_dir


def _prepare_out_dir(out_dir: Path) -> Path:
    if out_dir.exists() and any(out_dir.iterdir()):
        raise CkptlensError(f"{out_dir} is not empty; pretrain into a new folder or delete this one")
    out_dir.mkdir(parents=True, exist_ok=True)
    return out_dir


def _train(
    model: torch.nn.Module,
    streams: TokenStreams,
    config: PretrainConfig,
    device: torch.device,
    progress: Progress | None,
) -> Iterator[tuple[int, float]]:
    """Train for ``config.max_steps``; yield (step, mean train loss since the last yield) at each save step."""
    optimizer = build_optimizer(model, config)
    generator = torch.Generator().manual_seed(config.seed)
    losses: list[float] = []
    model.train()
    for step in range(1, config.max_steps + 1):
        for group in optimizer.param_groups:
            group["lr"] = learning_rate_at(step - 1, config)
        batch = random_batch(streams.train, config.batch_size, config.context_length, generator).to(device)
        loss = model(input_ids=batch, labels=batch).loss
        loss.backward()
        if config.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(model.parameters(), config.grad_clip)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        losses.append(loss.item())
        if progress is not None:
            progress(step, config.max_steps, losses[-1])
        if step % config.save_every == 0 or step == config.max_steps:
            yield step, sum(losses) / len(losses)
            losses.clear()


def _checkpoint_row(
    step: int,
    train_loss: float,
    model: torch.nn.Module,
    streams: TokenStreams,
    config: PretrainConfig,
    device: torch.device,
) -> dict:
    return {
        "step": step,
        "tokens_seen": step * config.batch_size * config.context_length,
        "train_loss": round(train_loss, 5),
        "val_loss": round(_validation_loss(model, streams, config, device), 5),
    }


@torch.no_grad()
def _validation_loss(
    model: torch.nn.Module, streams: TokenStreams, config: PretrainConfig, device: torch.device
) -> float:
    """Mean next-token loss on fixed held-out windows, so checkpoints are comparable."""
    model.eval()
    batches = validation_batches(streams.val, config.batch_size, config.context_length, config.val_batches)
    losses = [model(input_ids=b.to(device), labels=b.to(device)).loss.item() for b in batches]
    model.train()
    return sum(losses) / len(losses)


@contextlib.contextmanager
def _quiet_transformers() -> Iterator[None]:
    """Silence transformers' warnings and progress bars while saving, then restore the caller's settings."""
    verbosity = transformers.utils.logging.get_verbosity()
    bars = transformers.utils.logging.is_progress_bar_enabled()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
    try:
        yield
    finally:
        transformers.utils.logging.set_verbosity(verbosity)
        if bars:
            transformers.utils.logging.enable_progress_bar()
