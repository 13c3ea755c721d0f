"""Watch mode: a checkpoint written slowly while the watch runs is evaluated once, and only when complete."""

from __future__ import annotations

import json
import shutil
import threading
import time
from pathlib import Path

import pytest
from safetensors.torch import save_file

import ckptlens.evaluation.units as units
import ckptlens.evaluation.watch as watch
from ckptlens.evaluation.runner import EvalConfig
from ckptlens.evaluation.watch import WatchOptions, is_complete, watch_series
from ckptlens.store import Store
from tests.cli.conftest import write_mc_task

WEIGHTS = "model.safetensors"
FAST = WatchOptions(poll_seconds=0.05, timeout=1.5)


@pytest.fixture
def checkpoint(tiny_series, tmp_path) -> Path:
    """A private, complete copy of one checkpoint of the tiny series."""
    return Path(shutil.copytree(tiny_series / "step000010", tmp_path / "step000010"))


@pytest.fixture
def counted_loads(monkeypatch, one_thread) -> list[tuple[str, int]]:
    """(checkpoint, weights size when it was loaded) for every model the runner loads."""
    loads = []
    real = units.load_model

    def load(path, *args, **kwargs):
        loads.append((Path(path).name, (Path(path) / WEIGHTS).stat().st_size))
        return real(path, *args, **kwargs)

    monkeypatch.setattr(units, "load_model", load)
    return loads


def test_a_whole_checkpoint_is_complete(checkpoint):
    assert is_complete(checkpoint)


def test_truncated_weights_are_not_complete(checkpoint):
    weights = checkpoint / WEIGHTS
    weights.write_bytes(weights.read_bytes()[:-1])
    assert not is_complete(checkpoint)
    weights.write_bytes(weights.read_bytes()[:100])  # not even the whole header
    assert not is_complete(checkpoint)


def test_config_missing_or_half_written_is_not_complete(checkpoint):
    (checkpoint / "config.json").write_text('{"vocab_size": ')
    assert not is_complete(checkpoint)
    (checkpoint / "config.json").unlink()
    assert not is_complete(checkpoint)


def test_a_shard_named_by_the_index_must_be_present(tmp_path):
    import torch

    folder = tmp_path / "step000100"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    save_file({"a": torch.ones(4)}, str(folder / "model-00001-of-00002.safetensors"))
    save_file({"b": torch.ones(4)}, str(folder / "model-00002-of-00002.safetensors"))
    index = {"weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"}}
    (folder / "model.safetensors.index.json").write_text(json.dumps(index))
    assert is_complete(folder)
    (folder / "model-00002-of-00002.safetensors").unlink()
    assert not is_complete(folder)


def test_a_marker_decides_alone(checkpoint):
    assert not is_complete(checkpoint, marker=".done")
    (checkpoint / WEIGHTS).write_bytes(b"")
    (checkpoint / ".done").touch()
    assert is_complete(checkpoint, marker=".done")


def write_slowly(source: Path, target: Path, chunks: int = 6, pause: float = 0.1) -> None:
    """Copy a checkpoint as a trainer writes one: small files (config first), then the weights in chunks."""
    target.mkdir()
    shutil.copy(source / "config.json", target / "config.json")
    for f in sorted(source.iterdir()):
        if f.name not in ("config.json", WEIGHTS):
            shutil.copy(f, target / f.name)
    data = (source / WEIGHTS).read_bytes()
    step = len(data) // chunks + 1
    with (target / WEIGHTS).open("wb") as out:
        for begin in range(0, len(data), step):
            time.sleep(pause)
            out.write(data[begin : begin + step])
            out.flush()


def test_a_checkpoint_written_during_the_watch_is_evaluated_once_when_complete(
    tiny_series, tmp_path, counted_loads, monkeypatch
):
    series = tmp_path / "series"
    series.mkdir()
    shutil.copytree(tiny_series / "step000010", series / "step000010")
    task = write_mc_task(tmp_path / "mc.jsonl", n=4)
    store = Store(tmp_path / "store")
    final_size = (tiny_series / "step000020" / WEIGHTS).stat().st_size
    first_done = threading.Event()  # the slow write starts while the watch is polling, not while it evaluates
    writer = threading.Thread(
        target=lambda: first_done.wait(10) and write_slowly(tiny_series / "step000020", series / "step000020")
    )
    verdicts = _record_verdicts(monkeypatch, "step000020")
    seen = []

    def on_checkpoint(ckpt, result):
        seen.append((ckpt.name, result.units_done))
        first_done.set()

    writer.start()
    summary = watch_series(series, [str(task)], store, "live", EvalConfig(batch_size=8), FAST, on_checkpoint)
    writer.join()

    assert False in verdicts and verdicts[-1] is True  # the watch saw it half-written and waited
    assert counted_loads == [("step000010", final_size), ("step000020", final_size)]
    assert seen == [("step000010", 1), ("step000020", 1)]
    assert summary.checkpoints == ["step000010", "step000020"] and summary.units_done == 2
    assert sorted(store.read(["live"]).column("checkpoint").unique().to_pylist()) == ["step000010", "step000020"]
    assert store.run_info("live")["checkpoints"] == ["step000010", "step000020"]

    again = watch_series(series, [str(task)], store, "live", options=WatchOptions(poll_seconds=0.05, timeout=0.2))
    assert again.units_done == 0 and again.units_skipped == 2 and len(counted_loads) == 2


def test_marker_mode_waits_for_the_marker(tiny_series, tmp_path, counted_loads):
    series = tmp_path / "series"
    shutil.copytree(tiny_series / "step000010", series / "step000010")
    task = write_mc_task(tmp_path / "mc.jsonl", n=4)
    options = WatchOptions(poll_seconds=0.05, timeout=0.3, marker=".done")

    assert watch_series(series, [str(task)], Store(tmp_path / "store"), options=options).checkpoints == []
    (series / "step000010" / ".done").touch()
    assert watch_series(series, [str(task)], Store(tmp_path / "store"), options=options).checkpoints == ["step000010"]


def _record_verdicts(monkeypatch, name: str) -> list[bool]:
    """Every answer the watch's completeness check gives for the checkpoint ``name``."""
    verdicts = []

    def check(folder, marker=None):
        verdict = is_complete(folder, marker)
        if Path(folder).name == name:
            verdicts.append(verdict)
        return verdict

    monkeypatch.setattr(watch, "is_complete", check)
    return verdicts
