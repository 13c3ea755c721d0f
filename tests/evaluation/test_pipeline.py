"""The series pipeline: one tokenisation per tokenizer, a checkpoint loaded ahead, writes in the background."""

import shutil
import threading
import weakref

import pytest

from ckptlens.checkpoints import discover_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation import pipeline, runner, units
from ckptlens.evaluation.pipeline import Prefetcher, Writer
from ckptlens.evaluation.runner import EvalConfig, evaluate_series
from ckptlens.store import Store
from ckptlens.tasks.task import Example, Task
from tests.conftest import WORDS, build_tokenizer

TASK = Task(
    name="colours",
    kind="multiple_choice",
    category="knowledge",
    examples=tuple(Example(f"c{i}", f"Q : what is {w} ? A :", (" red", " blue green"), gold=0)
                   for i, w in enumerate(["one", "two", "three"])),  # fmt: skip
)


@pytest.fixture
def tokenised(monkeypatch):
    """Counts the tokenisations of a task (each checkpoint's tokenizer folder recorded)."""
    seen = []
    real = pipeline.encode_examples

    def encode(tokenizer, examples):
        seen.append(tokenizer.name_or_path)
        return real(tokenizer, examples)

    monkeypatch.setattr(pipeline, "encode_examples", encode)
    return seen


def test_a_shared_tokenizer_tokenises_each_task_once(tiny_series, tmp_path, tokenised, one_thread):
    summary = evaluate_series(discover_series(tiny_series), [TASK], Store(tmp_path), "tiny", EvalConfig(device="cpu"))
    assert summary.units_done == 4 and len(tokenised) == 1


def test_a_different_tokenizer_is_tokenised_again(tiny_series, tmp_path, tokenised, one_thread):
    series = tmp_path / "series"
    shutil.copytree(tiny_series, series)
    other = build_tokenizer([w for w in WORDS if w != "what"])  # "what" unknown, other ids
    other.save_pretrained(series / "step000030")
    store = Store(tmp_path / "store")
    evaluate_series(discover_series(series), [TASK], store, "mixed", EvalConfig(device="cpu"))
    assert [p.rsplit("/", 1)[-1] for p in tokenised] == ["step000010", "step000030"]  # 40 reuses 10
    records = {r["checkpoint"]: r["logliks"] for r in store.read(runs=["mixed"]).to_pylist()}
    model, tok = load_model(series / "step000030", device="cpu")
    expected = runner.evaluate_task(model, tok, TASK)
    assert records["step000030"] == pytest.approx(expected[-1]["logliks"], abs=1e-5)


def test_prefetcher_loads_ahead_in_another_thread():
    threads = []

    def load(name):
        threads.append(threading.current_thread().name)
        return name.upper()

    prefetcher = Prefetcher(load)
    assert prefetcher.get("a") == "A"
    prefetcher.start("b")
    assert prefetcher.get("c") == "C"  # a wrong guess is waited for and dropped
    prefetcher.start("d")
    assert prefetcher.get("d") == "D"
    prefetcher.close()
    assert threads[0] == threading.main_thread().name and threads[1].startswith("ckptlens-load")


def test_writer_runs_every_job_and_raises_the_first_error():
    writer, gate, done = Writer(), threading.Event(), []

    def fail():
        gate.wait()
        raise OSError("disk full")

    writer.submit(fail)
    writer.submit(lambda: done.append(1))
    gate.set()
    with pytest.raises(OSError, match="disk full"):
        writer.close()
    assert done == [1]  # nothing queued is lost


def test_a_failed_write_stops_the_series(tiny_series, tmp_path, monkeypatch, one_thread):
    def broken(store, run, piece, table):
        raise OSError("no space left on device")

    monkeypatch.setattr(units, "write_piece", broken)
    store = Store(tmp_path)
    with pytest.raises(OSError, match="no space left"):
        evaluate_series(discover_series(tiny_series), [TASK], store, "tiny", EvalConfig(device="cpu"))
    assert not list(tmp_path.rglob("*.claim"))  # every claim released


class _Model:
    """Stands in for a scored model; ``cycle`` makes it hold itself, as some model classes do."""

    def __init__(self, cycle: bool):
        self.me = self if cycle else None


@pytest.mark.parametrize("cycle", [False, True])
def test_a_scored_model_is_freed_and_collected_only_when_a_cycle_holds_it(cycle, monkeypatch):
    collections, real_collect = [], runner.gc.collect
    monkeypatch.setattr(runner.gc, "collect", lambda: collections.append(real_collect()))
    model = _Model(cycle)
    alive = weakref.ref(model)
    del model
    runner._collect_if_held(alive)
    assert alive() is None
    assert len(collections) == int(cycle)
