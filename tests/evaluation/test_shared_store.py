"""Several writers on one store: each unit is evaluated once, shards resume, stale claims are taken over."""

import json
import multiprocessing
import os
import subprocess
import sys
import time

import pyarrow.parquet as pq
import pytest

import ckptlens.evaluation.runner as runner
import ckptlens.evaluation.units as units
from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation.runner import EvalConfig, evaluate_series
from ckptlens.store import Shard, Store
from ckptlens.store.claims import HOST, claim_path
from tests.evaluation.same_records import assert_same_records
from tests.evaluation.test_runner import CAPITALS, TASKS


def _keys(store):
    return sorted((r["checkpoint"], r["task"], r["example_id"]) for r in store.read().to_pylist())


def _writer(series_dir, store_dir, role, a_loading, b_wrote, results):
    """One ``evaluate_series`` process. A holds its first checkpoint's units until B has stored one of its own.

    It also reports whether Ray was imported: the local executor and the CLI must run without it.
    """
    import torch

    torch.set_num_threads(1)
    runner.CLAIM_POLL_SECONDS = 0.1
    series = discover_series(series_dir)

    def load(ckpt):
        if role == "A" and not a_loading.is_set():
            a_loading.set()
            assert b_wrote.wait(120), "B never stored a unit while A held its claims"
        return load_model(ckpt.path, device="cpu")

    def on_unit(ckpt, task):
        if role == "B":
            b_wrote.set()

    summary = evaluate_series(series, TASKS, Store(store_dir), "tiny", EvalConfig(batch_size=4), on_unit, load)
    import ckptlens.cli.app
    import ckptlens.cli.cluster
    import ckptlens.evaluation.evaluate  # noqa: F401  (they name the Ray executor, which must not import Ray)

    results.put((role, summary.units_done, summary.units_skipped, "ray" in sys.modules))


def test_two_writers_on_one_store_evaluate_each_unit_once(tiny_series, tmp_path):
    spawn = multiprocessing.get_context("spawn")
    a_loading, b_wrote, results = spawn.Event(), spawn.Event(), spawn.Queue()
    args = (tiny_series, tmp_path, a_loading, b_wrote, results)
    a = spawn.Process(target=_writer, args=(args[0], args[1], "A", *args[2:]))
    b = spawn.Process(target=_writer, args=(args[0], args[1], "B", *args[2:]))
    a.start()
    assert a_loading.wait(120)  # A has claimed both units of the first checkpoint
    b.start()
    outcome = {role: counts for role, *counts in (results.get(timeout=240), results.get(timeout=240))}
    a.join(30), b.join(30)
    assert a.exitcode == b.exitcode == 0

    n_units = 4 * len(TASKS)
    (a_done, a_skipped, a_ray), (b_done, b_skipped, b_ray) = outcome["A"], outcome["B"]
    assert not a_ray and not b_ray
    assert a_done + b_done == n_units  # nothing evaluated twice
    assert a_done >= 2 and b_done >= 2  # both worked: A its first checkpoint, B the ones A had not claimed
    assert a_done + a_skipped == b_done + b_skipped == n_units  # each returned with every unit stored
    keys = _keys(Store(tmp_path))
    assert len(keys) == len(set(keys)) == 4 * (3 + 2)
    assert not list(tmp_path.rglob("*.claim"))


def test_stale_claims_are_taken_over(tiny_series, tmp_path, one_thread, monkeypatch):
    monkeypatch.setattr(runner, "CLAIM_POLL_SECONDS", 0.05)
    series = discover_series(tiny_series)[:2]
    store = Store(tmp_path)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    stale = {"host": "other-node", "pid": 1, "time": 0, "token": "x"}
    killed = {"host": HOST, "pid": dead.pid, "time": time.time(), "token": "y"}
    for ckpt, claim in zip(series, (stale, killed)):
        path = claim_path(store.unit_path("tiny", ckpt.name, "capitals"))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(claim))
    old = time.time() - 3600
    os.utime(claim_path(store.unit_path("tiny", series[0].name, "capitals")), (old, old))

    summary = evaluate_series(series, [CAPITALS], store, "tiny", EvalConfig(device="cpu"))
    assert (summary.units_done, summary.units_skipped) == (2, 0)
    assert len(_keys(store)) == 2 * 3 and not list(tmp_path.rglob("*.claim"))


def test_a_sharded_unit_resumes_from_its_stored_shards(tiny_series, tmp_path, one_thread, monkeypatch):
    series = discover_series(tiny_series)[:1]
    whole, sharded = Store(tmp_path / "whole"), Store(tmp_path / "sharded")
    evaluate_series(series, TASKS, whole, "tiny", EvalConfig(device="cpu"))
    config = EvalConfig(device="cpu", shard_size=2)  # capitals (3 examples): 2 shards, echo (2): whole
    evaluated, interrupted, real = [], [], units.evaluate_piece

    def interrupted_on_second_shard(model, tokenizer, piece, run, config, *encodings):
        if piece.shard == Shard(1, 2) and not interrupted:
            interrupted.append(piece)
            raise KeyboardInterrupt
        evaluated.append(piece)
        return real(model, tokenizer, piece, run, config, *encodings)

    monkeypatch.setattr(units, "evaluate_piece", interrupted_on_second_shard)
    with pytest.raises(KeyboardInterrupt):
        evaluate_series(series, TASKS, sharded, "tiny", config)
    unit = ("tiny", series[0].name, "capitals")
    assert sharded.has_unit(*unit, Shard(0, 2)) and not sharded.has_unit(*unit) and sharded.read().num_rows == 0

    evaluated.clear()
    summary = evaluate_series(series, TASKS, sharded, "tiny", config)
    assert [(p.task.name, p.shard) for p in evaluated] == [("capitals", Shard(1, 2)), ("echo", None)]
    assert (summary.units_done, summary.units_skipped) == (2, 0)
    for task in TASKS:
        path = ("tiny", series[0].name, task.name)
        assert_same_records(pq.read_table(sharded.unit_path(*path)), pq.read_table(whole.unit_path(*path)))
    assert sorted(p.name for p in (tmp_path / "sharded" / "records").rglob("*")) == [
        "capitals", "echo", "step000010.parquet", "step000010.parquet", "tiny"
    ]  # shards merged and removed, no claim left
