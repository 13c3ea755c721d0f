"""SIGKILL at random points of ``eval``, ``average``, ``import`` and report writing, then a rerun.

Each operation runs once uninterrupted (the reference, timed). Then, per seed, a
forked child (torch and ckptlens already imported: a fork costs milliseconds,
a fresh interpreter seconds) starts the same operation into fresh folders and is
killed with SIGKILL after a random fraction of the reference's time; a rerun
in this process finishes the work. The files it ends with must equal the
reference byte for byte (Parquet and safetensors writing is deterministic), with
no temporary, partial or claim file left anywhere.
"""

from __future__ import annotations

import hashlib
import os
import random
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from ckptlens.analysis.adaptive import AdaptiveConfig
from ckptlens.analysis.stability import StabilityConfig
from ckptlens.averaging import AverageRequest, run_average
from ckptlens.evaluation.evaluate import SeriesOptions, evaluate
from ckptlens.evaluation.runner import EvalConfig
from ckptlens.importers import import_lm_eval
from ckptlens.report import ReportConfig, write_report
from ckptlens.store import Store
from tests.cli.conftest import write_mc_task
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format

pytestmark = pytest.mark.usefixtures("one_thread")
LEFTOVER_MARKS = (".tmp-", ".partial", ".claim")


def files(folder: Path, suffixes: tuple[str, ...] = ()) -> dict[str, str]:
    """{relative path: SHA-256} of every file under ``folder`` (only those ending in ``suffixes`` when given)."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and (not suffixes or p.name.endswith(suffixes))
    }


def leftovers(folder: Path) -> list[str]:
    return [str(p) for p in folder.rglob("*") if any(mark in p.name for mark in LEFTOVER_MARKS)]


def killed_at(seed: int, seconds: float, work: Callable[[], object]) -> float:
    """Run ``work`` in a forked child and SIGKILL it after a random part of ``seconds``; returns the delay."""
    delay = random.Random(seed).uniform(0.05, 1.0) * seconds
    pid = os.fork()
    if pid == 0:  # the child: its own process group (with any workers it starts); never returns into pytest
        try:
            os.setpgid(0, 0)
            work()
        finally:
            os._exit(0)
    time.sleep(delay)
    try:
        os.killpg(pid, signal.SIGKILL)
    except ProcessLookupError:  # killed before it made its group: the child alone
        os.kill(pid, signal.SIGKILL)
    os.waitpid(pid, 0)
    return delay


def timed(work: Callable[[], object]) -> float:
    start = time.perf_counter()
    work()
    return time.perf_counter() - start


def check_kill_then_rerun(tmp_path: Path, seeds: range, output: str, make: Callable[[Path], Callable[[], object]],
                          compared: tuple[str, ...]) -> None:
    """Reference run in ``tmp_path/ref``; per seed a killed run and a rerun in ``tmp_path/<seed>``."""
    seconds = timed(make(tmp_path / "ref"))
    reference = files(tmp_path / "ref" / output, compared)
    assert reference
    interrupted = 0
    for seed in seeds:
        folder = tmp_path / f"seed{seed}"
        killed_at(seed, seconds, make(folder))
        interrupted += not (folder / output).exists() or files(folder / output, compared) != reference
        make(folder)()
        assert files(folder / output, compared) == reference, f"seed {seed}"
        assert leftovers(folder / output) == [], f"seed {seed}"
    assert interrupted >= len(seeds) // 2, "most kills must land before the work is done"


def test_eval_killed_anywhere_then_rerun(tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "facts.jsonl", n=6)

    def make(folder: Path):
        return lambda: evaluate(tiny_series, [str(task)], Store(folder / "store"), "run", EvalConfig(batch_size=8),
                                series=SeriesOptions(steps="10,20,30"))

    check_kill_then_rerun(tmp_path, range(5), "store", make, (".parquet",))


def test_average_killed_anywhere_then_rerun(tiny_series, tmp_path):
    def make(folder: Path):
        return lambda: run_average(AverageRequest((str(tiny_series),), folder / "avg", window=2))

    check_kill_then_rerun(tmp_path, range(100, 106), "avg", make, (".safetensors", ".json"))


def test_import_killed_anywhere_then_rerun(tmp_path):
    outputs = tmp_path / "lm-eval"
    for step in range(1000, 8000, 1000):  # 14 samples files: imported in this process (see PARALLEL_MIN_FILES)
        samples = [ChoiceSample(i, f"is {i} odd?", ["yes", "no"], i % 2, [-1.0 - (i * step) % 7, -3.0])
                   for i in range(60)]
        write_new_format(outputs / f"step{step}", Checkpoint(f"step{step}", {"boolq": samples, "piqa": samples}))

    def make(folder: Path):
        return lambda: import_lm_eval([outputs], Store(folder / "store"), run="pythia")

    check_kill_then_rerun(tmp_path, range(200, 206), "store", make, (".parquet",))


def test_report_killed_anywhere_then_rerun(tiny_series, tmp_path):
    store = Store(tmp_path / "store")
    evaluate(tiny_series, [str(write_mc_task(tmp_path / "facts.jsonl", n=6))], store, "run", EvalConfig(8))
    records = files(store.root)
    config = ReportConfig(StabilityConfig(last=1.0, windows=(2,), bootstrap=0, adaptive=AdaptiveConfig()),
                          select_window=2)

    def make(folder: Path):
        return lambda: write_report(store, folder / "report", config)

    check_kill_then_rerun(tmp_path, range(300, 304), "report", make, (".csv", ".json"))
    assert files(store.root) == records
