"""SIGKILL in the middle of ``ckptlens eval``, then a rerun: every record exactly once, no partial file."""

import os
import shutil
import signal
import subprocess
import sys
import time

import pyarrow.parquet as pq

from tests.cli.conftest import write_mc_task
from tests.conftest import write_series

N_EXAMPLES = 300
STEPS = tuple(range(10, 130, 10))


def test_sigkill_then_rerun(tmp_path):
    series = write_series(tmp_path / "series", steps=STEPS)
    task = write_mc_task(tmp_path / "big.jsonl", n=N_EXAMPLES)
    store = tmp_path / "store"
    command = [sys.executable, "-m", "ckptlens", "eval", str(series), "--tasks", str(task), "--store", str(store),
               "--batch-size", "4"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    units = store / "records" / "series" / "big"
    deadline = time.time() + 120
    while time.time() < deadline and len(list(units.glob("*.parquet"))) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    finished_at_kill = len(list(units.glob("*.parquet")))
    assert 2 <= finished_at_kill < len(STEPS), "the kill must land mid-series"

    subprocess.run(command, env=env, check=True, capture_output=True)
    files = sorted(p.name for p in units.iterdir())
    assert files == [f"step{s:06d}.parquet" for s in STEPS]  # no temporary or partial files left
    ids = [(f, i) for f in files for i in pq.read_table(units / f)["example_id"].to_pylist()]
    assert len(ids) == len(set(ids)) == len(STEPS) * N_EXAMPLES
    shutil.rmtree(tmp_path / "series")
