"""A PyTorch Lightning ``Callback`` that evaluates ckptlens tasks each time Lightning saves a checkpoint.

>>> from ckptlens.integrations.lightning import CkptlensLightningCallback
>>> callback = CkptlensLightningCallback(["tasks/capitals.jsonl"], store="store", run="my-run", tokenizer=tokenizer)

Hand it to Lightning beside the checkpointing callback: ``L.Trainer(callbacks=[ModelCheckpoint(
every_n_train_steps=500, save_top_k=-1), callback])`` (``tests/integrations/`` trains with it).

It hooks ``on_save_checkpoint``, so it evaluates as often as your
``ModelCheckpoint`` saves, on the Hugging Face model found at
``pl_module.<model_attr>`` (default ``model``). Lightning checkpoints are not
Hugging Face folders, so records are stored under the name ``step<N>``;
TensorBoard event files go to ``<default_root_dir>/ckptlens`` unless ``log_dir``.
Only the global-zero process evaluates. Works with ``lightning`` or ``pytorch_lightning``.

Lightning's ``.ckpt`` files are not a series ckptlens can average or evaluate. With
``export_dir``, each save also writes the wrapped model as a Hugging Face folder
(``save_pretrained`` with the tokenizer) named ``<export_dir>/step<N>``, the name its
records carry: ``ckptlens average <export_dir> --window 4 --out avg4`` averages the run,
and ``ckptlens eval <export_dir> --tasks ... --run <run>`` skips the checkpoints the
callback already evaluated. Each folder is written under a temporary name and renamed,
so a watch on ``export_dir`` never sees half of one.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from ckptlens.errors import CkptlensError
from ckptlens.integrations.training import TrainingEvaluation
from ckptlens.store import Store
from ckptlens.tasks.resolve import resolve_tasks
from ckptlens.tasks.task import Task

try:
    from lightning.pytorch import Callback, LightningModule, Trainer
except ImportError:
    try:
        from pytorch_lightning import Callback, LightningModule, Trainer
    except ImportError as error:
        raise CkptlensError(
            "the Lightning callback needs PyTorch Lightning: pip install 'ckptlens[train]' (or lightning)"
        ) from error


class CkptlensLightningCallback(Callback):
    """Evaluate ``tasks`` (task files, built-in names or ``Task`` objects) whenever Lightning saves."""

    def __init__(
        self,
        tasks: Sequence[str | Task],
        store: str | Path,
        run: str,
        tokenizer,
        model_attr: str = "model",
        log_dir: str | Path | None = None,
        window: int = 5,
        batch_size: int = 32,
        export_dir: str | Path | None = None,
    ):
        self.tasks = [t for spec in tasks for t in ([spec] if isinstance(spec, Task) else resolve_tasks([spec]))]
        self.store, self.run, self.tokenizer, self.model_attr = Store(store), run, tokenizer, model_attr
        self.log_dir, self.window, self.batch_size = log_dir, window, batch_size
        self.export_dir = None if export_dir is None else Path(export_dir)
        self.evaluation: TrainingEvaluation | None = None
        self.last_scalars: dict[str, float] = {}

    def on_save_checkpoint(self, trainer: Trainer, pl_module: LightningModule, checkpoint: dict) -> None:
        if not trainer.is_global_zero:
            return
        model = getattr(pl_module, self.model_attr, None)
        if model is None:
            raise CkptlensError(f"the LightningModule has no attribute {self.model_attr!r}; pass model_attr=")
        step = trainer.global_step
        if self.export_dir is not None:
            export_hf_folder(model, self.tokenizer, self.export_dir / f"step{step}")
        self.last_scalars = self._evaluation(trainer).evaluate(model, self.tokenizer, step, f"step{step}")

    def on_train_end(self, trainer: Trainer, pl_module: LightningModule) -> None:
        if self.evaluation is not None:
            self.evaluation.close()

    def _evaluation(self, trainer: Trainer) -> TrainingEvaluation:
        if self.evaluation is None:
            log_dir = Path(self.log_dir) if self.log_dir else Path(trainer.default_root_dir) / "ckptlens"
            self.evaluation = TrainingEvaluation(
                self.tasks, self.store, self.run, log_dir, self.window, self.batch_size
            )
        return self.evaluation


def export_hf_folder(model, tokenizer, folder: Path) -> Path:
    """``save_pretrained`` of the model and tokenizer into ``folder``, written beside it and renamed into place."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=".partial-", dir=folder.parent))  # no step in the name: not listed
    try:
        model.save_pretrained(partial)
        tokenizer.save_pretrained(partial)
        shutil.rmtree(folder, ignore_errors=True)
        os.replace(partial, folder)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return folder
