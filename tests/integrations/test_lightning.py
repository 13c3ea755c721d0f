"""The Lightning callback: the tiny demo model trained by Lightning leaves records and TensorBoard scalars."""

import importlib
import sys

import pytest
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import ModelCheckpoint

from ckptlens.analysis.matrix import store_matrix
from ckptlens.errors import CkptlensError
from ckptlens.integrations.lightning import CkptlensLightningCallback
from ckptlens.store import Store
from tests.integrations.conftest import scalars


class CausalLM(pl.LightningModule):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def training_step(self, batch, _):
        return self.model(input_ids=batch, labels=batch).loss

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=3e-3)


def fit(module, windows, root, callback):
    checkpoints = ModelCheckpoint(dirpath=root / "ckpt", every_n_train_steps=2, save_top_k=-1)
    trainer = pl.Trainer(max_steps=6, accelerator="cpu", logger=False, enable_progress_bar=False,
                         enable_model_summary=False, default_root_dir=root, callbacks=[checkpoints, callback])
    trainer.fit(module, torch.utils.data.DataLoader(torch.stack(windows), batch_size=8))


def test_lightning_callback_stores_every_save_and_logs_scores(tiny_model, demo_world, tmp_path):
    tokenizer, windows, tasks = demo_world
    callback = CkptlensLightningCallback(tasks, tmp_path / "store", "lit", tokenizer, window=3)
    fit(CausalLM(tiny_model), windows, tmp_path, callback)

    store = Store(tmp_path / "store")
    matrix = store_matrix(store, "lit", "capital_choice")
    assert matrix.checkpoints == ("step2", "step4", "step6")
    assert store_matrix(store, "lit", "capital_recall").steps.tolist() == [2, 4, 6]
    logged = scalars(tmp_path / "ckptlens")
    assert logged["ckptlens/capital_choice/score"] == [
        (step, pytest.approx(score)) for step, score in zip([2, 4, 6], matrix.score.mean(axis=0))
    ]
    assert [s for s, _ in logged["ckptlens/capital_recall/instability_score"]] == [4, 6]


def test_a_module_without_the_model_attribute_is_a_one_line_error(tiny_model, demo_world, tmp_path):
    tokenizer, windows, tasks = demo_world
    callback = CkptlensLightningCallback(tasks, tmp_path / "store", "lit", tokenizer, model_attr="backbone")
    with pytest.raises(CkptlensError, match="no attribute 'backbone'"):
        fit(CausalLM(tiny_model), windows, tmp_path, callback)


def test_without_lightning_installed_the_import_is_a_one_line_error(monkeypatch):
    for name in ("lightning", "lightning.pytorch", "pytorch_lightning", "ckptlens.integrations.lightning"):
        monkeypatch.setitem(sys.modules, name, None)
    monkeypatch.delitem(sys.modules, "ckptlens.integrations.lightning")
    with pytest.raises(CkptlensError, match=r"pip install 'ckptlens\[train\]'"):
        importlib.import_module("ckptlens.integrations.lightning")


def test_export_dir_writes_a_series_that_averages_and_resumes(tiny_model, demo_world, tmp_path):
    """``export_dir``: each save is also a Hugging Face folder ``step<N>``, a series ckptlens can average, and
    evaluating it into the same run skips every checkpoint the callback already stored."""
    from ckptlens.averaging import average_series
    from ckptlens.checkpoints import discover_series
    from ckptlens.evaluation.evaluate import evaluate

    tokenizer, windows, tasks = demo_world
    callback = CkptlensLightningCallback(tasks, tmp_path / "store", "lit", tokenizer, export_dir=tmp_path / "hf")
    fit(CausalLM(tiny_model), windows, tmp_path, callback)

    series = discover_series(tmp_path / "hf")
    assert [(c.name, c.step) for c in series] == [("step2", 2), ("step4", 4), ("step6", 6)]
    assert sorted(p.name for p in (tmp_path / "hf").iterdir()) == ["step2", "step4", "step6"]  # no partial left
    summary = evaluate(tmp_path / "hf", tasks, Store(tmp_path / "store"), run="lit")
    assert (summary.units_done, summary.units_skipped) == (0, 3 * len(tasks))
    written = average_series(series, window=2, out_dir=tmp_path / "avg2")
    assert len(written) == 2
