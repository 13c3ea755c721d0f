"""Evaluate the model a training loop holds, keep its records, and log scores and stability to TensorBoard.

At each save the model in memory (no reload from disk) is evaluated on the
tasks in eval mode and put back in the mode it was in; each (checkpoint, task)
unit goes to the store exactly like ``ckptlens eval`` would write it, under the
checkpoint name the trainer saves to, so a later ``ckptlens eval`` of the
output folder with the same ``--run`` skips what was already done. TensorBoard
gets, per task, at the training step:

- ``ckptlens/<task>/score``: the mean score of the newest checkpoint
  (``ckptlens/<task>/loss`` in nats per token for a perplexity task);
- ``ckptlens/<task>/task_mtv``, ``example_mtv``, ``instability_score``: the
  DESIGN.md metrics over the newest ``window`` checkpoints, once there are two.

>>> from ckptlens.tasks.task_file import load_task
>>> evaluation = TrainingEvaluation([load_task("tasks/capitals.jsonl")], Store("store"), "my-run", Path("tb"))
>>> sorted(evaluation.evaluate(model, tokenizer, step=1000, checkpoint="checkpoint-1000"))
['capitals/score']
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow.compute as pc
import torch

from ckptlens.analysis import metrics
from ckptlens.analysis.matrix import store_matrix
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.checkpoints.source import series_id
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, evaluate_series
from ckptlens.store import Store
from ckptlens.tasks.task import Task

if TYPE_CHECKING:
    from torch.utils.tensorboard import SummaryWriter

TAG_PREFIX = "ckptlens"


class TrainingEvaluation:
    """Everything a training callback needs: the tasks, where records and scalars go, and the metrics."""

    def __init__(
        self,
        tasks: Sequence[Task],
        store: Store,
        run: str,
        log_dir: Path,
        window: int = 5,
        batch_size: int = 32,
        series_dir: Path | None = None,
    ):
        self.tasks, self.store, self.run, self.window = list(tasks), store, run, window
        self.config = EvalConfig(batch_size=batch_size)
        self.series_dir = series_dir
        self.log_dir = Path(log_dir)
        self._writer: SummaryWriter | None = None
        if series_dir is not None:
            store.write_run_info(run, {"series": series_id(series_dir)})

    def evaluate(
        self, model: torch.nn.Module, tokenizer, step: int, checkpoint: str, tokens_seen: int | None = None
    ) -> dict[str, float]:
        """Evaluate ``model`` as checkpoint ``checkpoint`` at ``step``; returns and logs the scalars."""
        folder = (self.series_dir or Path(".")) / checkpoint
        unit = Checkpoint(checkpoint, folder, step, tokens_seen)
        with eval_mode(model):
            evaluate_series([unit], self.tasks, self.store, self.run, self.config, load=lambda _: (model, tokenizer))
        scalars = {k: v for task in self.tasks for k, v in self.task_scalars(task, checkpoint).items()}
        writer = self._tensorboard()
        for name, value in scalars.items():
            writer.add_scalar(f"{TAG_PREFIX}/{name}", value, step)
        writer.flush()
        return scalars

    def task_scalars(self, task: Task, checkpoint: str) -> dict[str, float]:
        """The task's score (or loss) at ``checkpoint`` and its stability over the newest checkpoints."""
        if task.kind == "perplexity":
            rows = self.store.read([self.run], [task.name], ["checkpoint", "nll", "n_tokens"])
            rows = rows.filter(pc.equal(rows["checkpoint"], checkpoint))
            return {f"{task.name}/loss": pc.sum(rows["nll"]).as_py() / pc.sum(rows["n_tokens"]).as_py()}
        matrix = store_matrix(self.store, self.run, task.name)
        newest = matrix.select_steps(matrix.steps[-self.window :])
        scalars = {f"{task.name}/score": float(matrix.curve[list(matrix.checkpoints).index(checkpoint)])}
        if len(newest.steps) >= 2:
            scalars[f"{task.name}/task_mtv"] = metrics.task_mtv(newest.curve)
            scalars[f"{task.name}/example_mtv"] = metrics.example_mtv(newest.score)
            scalars[f"{task.name}/instability_score"] = metrics.instability_score(newest.outputs)
        return scalars

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None

    def _tensorboard(self) -> SummaryWriter:
        if self._writer is None:
            try:  # the `train` extra: importing this module must not need it
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise CkptlensError("logging to TensorBoard needs it: pip install 'ckptlens[train]'") from None
            self._writer = SummaryWriter(str(self.log_dir))
        return self._writer


@contextmanager
def eval_mode(model: torch.nn.Module) -> Iterator[None]:
    """The model in eval mode (no dropout) for the block, then back in the mode it was in."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)
