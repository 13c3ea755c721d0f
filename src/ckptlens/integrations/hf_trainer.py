"""A Hugging Face ``TrainerCallback`` that evaluates ckptlens tasks each time the Trainer saves.

>>> from ckptlens.integrations.hf_trainer import CkptlensCallback
>>> callback = CkptlensCallback(["tasks/capitals.jsonl"], store="store", run="my-run")

Hand it to the Trainer: ``Trainer(model, args, train_dataset=data, callbacks=[callback])``
(``tests/integrations/`` trains the tiny demo model with it).

Records go to the store under the Trainer's checkpoint names (``checkpoint-500``),
so ``ckptlens eval OUTPUT_DIR --run my-run --store store`` later skips them;
TensorBoard event files go to ``OUTPUT_DIR/runs/ckptlens`` unless ``log_dir``.
Only the main process evaluates.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from ckptlens.integrations.training import TrainingEvaluation
from ckptlens.store import Store
from ckptlens.tasks.resolve import resolve_tasks
from ckptlens.tasks.task import Task


class CkptlensCallback(TrainerCallback):
    """Evaluate ``tasks`` (task files, built-in names or ``Task`` objects) on every save."""

    def __init__(
        self,
        tasks: Sequence[str | Task],
        store: str | Path,
        run: str,
        tokenizer=None,
        log_dir: str | Path | None = None,
        window: int = 5,
        batch_size: int = 32,
    ):
        self.tasks = [t for spec in tasks for t in ([spec] if isinstance(spec, Task) else resolve_tasks([spec]))]
        self.store, self.run, self.tokenizer = Store(store), run, tokenizer
        self.log_dir, self.window, self.batch_size = log_dir, window, batch_size
        self.evaluation: TrainingEvaluation | None = None
        self.last_scalars: dict[str, float] = {}

    def on_save(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if not state.is_world_process_zero:
            return
        evaluation = self._evaluation(args)
        tokens = state.num_input_tokens_seen or None
        tokenizer = self.tokenizer or kwargs.get("processing_class")
        checkpoint = f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
        self.last_scalars = evaluation.evaluate(kwargs["model"], tokenizer, state.global_step, checkpoint, tokens)

    def on_train_end(self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs):
        if self.evaluation is not None:
            self.evaluation.close()

    def _evaluation(self, args: TrainingArguments) -> TrainingEvaluation:
        if self.evaluation is None:
            output = Path(args.output_dir)
            log_dir = Path(self.log_dir) if self.log_dir else output / "runs" / "ckptlens"
            self.evaluation = TrainingEvaluation(
                self.tasks, self.store, self.run, log_dir, self.window, self.batch_size, series_dir=output
            )
        return self.evaluation
