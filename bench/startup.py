"""Start-up of the ``ckptlens`` command: help, a rejected argument, and the time to the first forward pass.

    python bench/startup.py [--repeat 5]

Prints the median wall time of ``python -m ckptlens --help``, of a call
rejected by an argument check (``eval --batch-size nope``, and ``eval --watch
--steps 1:2:1`` which fails inside the command), and of ``ckptlens eval`` from
the process start to its first forward pass on a 3.4M-parameter checkpoint
(a one-checkpoint series and a 4-shot task from ``speed``). The first forward
pass is caught by wrapping the engine's ``forward`` once its module is
imported; the process then exits.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from speed import build_series, write_task  # noqa: E402

FIRST_FORWARD = r"""
import os, sys, threading, time
def patch():
    name = "ckptlens.evaluation.scoring"
    while not hasattr(sys.modules.get(name), "_score_rows"):  # defined last: the module is complete
        time.sleep(0.0005)
    scoring = sys.modules[name]
    def first(*args, **kwargs):
        print("FIRST_FORWARD", time.time(), flush=True)
        os._exit(0)
    scoring.forward = first
threading.Thread(target=patch, daemon=True).start()
sys.argv = ["ckptlens", *sys.argv[1:]]
from ckptlens.cli.app import main
main()
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ckptlens-startup-"))
    build_series(work / "series", "small", 1)
    task = write_task(work / "tasks", "speed_multi", "multi", 200)
    cases = {
        "ckptlens --help": [sys.executable, "-m", "ckptlens", "--help"],
        "eval --batch-size nope": [sys.executable, "-m", "ckptlens", "eval", "x", "--batch-size", "nope"],
        "eval --watch --steps 1:2:1": [sys.executable, "-m", "ckptlens", "eval", "x", "--watch", "--steps", "1:2:1"],
    }
    for label, command in cases.items():
        times = [_wall(command) for _ in range(args.repeat)]
        print(f"{label:28s} median {statistics.median(times):.2f} s  (min {min(times):.2f}, max {max(times):.2f})")
    eval_args = ["eval", str(work / "series"), "--tasks", str(task), "--device", "cpu"]
    firsts = [_to_first_forward([*eval_args, "--store", str(work / f"store{i}")]) for i in range(args.repeat)]
    print(f"{'eval: start to first forward':28s} median {statistics.median(firsts):.2f} s  "
          f"(min {min(firsts):.2f}, max {max(firsts):.2f})")  # fmt: skip


def _wall(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, capture_output=True)
    return time.perf_counter() - start


def _to_first_forward(args: list[str]) -> float:
    start = time.time()
    done = subprocess.run([sys.executable, "-c", FIRST_FORWARD, *args], capture_output=True, text=True)
    line = next((x for x in done.stdout.splitlines() if x.startswith("FIRST_FORWARD")), None)
    if line is None:
        sys.exit(f"no forward pass seen:\n{done.stderr[-2000:]}")
    return float(line.split()[1]) - start


if __name__ == "__main__":
    main()
