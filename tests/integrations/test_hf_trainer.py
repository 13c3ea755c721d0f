"""The Trainer callback: the tiny demo model trained with the HF Trainer leaves records and TensorBoard scalars."""

import json
from pathlib import Path

import numpy as np
import pytest
from transformers import Trainer, TrainingArguments

from ckptlens.analysis import metrics
from ckptlens.analysis.matrix import store_matrix
from ckptlens.integrations.hf_trainer import CkptlensCallback
from ckptlens.store import Store
from ckptlens.tasks.task_file import save_task
from tests.integrations.conftest import scalars


def train(model, tokenizer, windows, out, callback):
    args = TrainingArguments(
        output_dir=str(out), max_steps=6, save_steps=2, save_strategy="steps", per_device_train_batch_size=8,
        learning_rate=3e-3, report_to=[], use_cpu=True, logging_steps=100, dataloader_num_workers=0, seed=0,
    )  # fmt: skip
    data = [{"input_ids": w, "labels": w} for w in windows]
    Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=[callback]).train()


def test_trainer_callback_stores_every_save_and_logs_scores_and_stability(tiny_model, demo_world, tmp_path):
    tokenizer, windows, tasks = demo_world
    callback = CkptlensCallback(tasks, store=tmp_path / "store", run="live", window=3)
    train(tiny_model, tokenizer, windows, tmp_path / "out", callback)

    store = Store(tmp_path / "store")
    assert store.tasks("live") == ["capital_choice", "capital_recall"]
    for task in store.tasks("live"):
        matrix = store_matrix(store, "live", task)
        assert matrix.checkpoints == ("checkpoint-2", "checkpoint-4", "checkpoint-6")
        assert matrix.steps.tolist() == [2, 4, 6]
    assert store.run_info("live")["series"] == str(tmp_path / "out")
    assert {p.name for p in (tmp_path / "out").glob("checkpoint-*")} == {"checkpoint-2", "checkpoint-4", "checkpoint-6"}

    logged = scalars(tmp_path / "out" / "runs" / "ckptlens")
    matrix = store_matrix(store, "live", "capital_choice")
    expected_scores = matrix.score.mean(axis=0)
    assert [s for s, _ in logged["ckptlens/capital_choice/score"]] == [2, 4, 6]
    assert [v for _, v in logged["ckptlens/capital_choice/score"]] == pytest.approx(expected_scores.tolist())
    assert [s for s, _ in logged["ckptlens/capital_choice/example_mtv"]] == [4, 6]  # from the second save on
    last = logged["ckptlens/capital_choice/example_mtv"][-1][1]
    assert last == pytest.approx(metrics.example_mtv(matrix.score))
    assert logged["ckptlens/capital_recall/task_mtv"][-1][1] == pytest.approx(
        np.mean(np.abs(np.diff(store_matrix(store, "live", "capital_recall").score.mean(axis=0))))
    )
    assert callback.last_scalars["capital_choice/score"] == pytest.approx(expected_scores[-1])
    assert tiny_model.training  # handed back in training mode


def test_a_later_ckptlens_eval_of_the_output_skips_what_the_callback_stored(tiny_model, demo_world, tmp_path, cli):
    tokenizer, windows, tasks = demo_world
    train(tiny_model, tokenizer, windows, tmp_path / "out", CkptlensCallback(tasks[:1], tmp_path / "store", "live"))
    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "store" / "records").rglob("*.parquet")}
    task_file = save_task(tasks[0], tmp_path / "tasks")
    code, _, err = cli("eval", tmp_path / "out", "--tasks", task_file, "--store", tmp_path / "store", "--run", "live")
    assert code == 0, err
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "store" / "records").rglob("*.parquet")} == written


def test_a_trainer_run_with_a_relative_output_dir_finds_its_averages(tiny_model, demo_world, tmp_path, monkeypatch,
                                                                     cli):
    """The callback stores the series in the form ``average`` records ``averaged_from``, so stability links them."""
    tokenizer, windows, tasks = demo_world
    monkeypatch.chdir(tmp_path)
    train(tiny_model, tokenizer, windows, Path("out"), CkptlensCallback(tasks[:1], "store", "live"))
    assert Store("store").run_info("live")["series"] == str((tmp_path / "out").resolve())
    assert cli("average", "out", "--window", "2", "--out", "avg2")[0] == 0
    task = save_task(tasks[0], tmp_path / "tasks")
    code, _, err = cli("eval", "avg2", "--tasks", task, "--store", "store")
    assert code == 0, err
    code, out, err = cli("stability", "--store", "store", "--last", "1", "--windows", "2", "--format", "json",
                         "--bootstrap", "0", "--adaptive", "none")
    assert code == 0, err
    assert {(r["run"], r["method"]) for r in json.loads(out)} >= {("live", "raw"), ("live", "average")}
