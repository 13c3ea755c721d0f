"""``ckptlens eval`` wall time of this tree against an older commit, back to back on the same series.

    python bench/compare_commits.py single --old 00cce23               # speed.py single's ckptlens command
    python bench/compare_commits.py series --old 00cce23 --rounds 2    # speed.py series' (10 checkpoints)

The series, task and command are ``speed.py``'s (it also times lm-eval, which needs its own environment);
here only ckptlens runs, once with the old commit's ``src`` (``git archive``) and once with this tree's,
alternating for ``--rounds`` rounds, each into a fresh store. Reports the best and the median of each.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from lmeval_parity import write_task  # noqa: E402
from speed import TASK, build_series  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["single", "series"])
    parser.add_argument("--old", required=True, help="commit to compare against")
    parser.add_argument("--model", default="small")
    parser.add_argument("--examples", type=int, default=None, help="default: speed.py's (200 single, 100 series)")
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=1)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ckptlens-compare-"))
    examples = args.examples or (200 if args.mode == "single" else 100)
    task_yaml = write_task(work / "tasks", TASK, "multi", examples)
    build_series(work / "series", args.model, 1 if args.mode == "single" else args.checkpoints)
    old_src = work / "old"
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.old, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(work)], input=archive.stdout, check=True)
    (work / "src").rename(old_src)
    times: dict[str, list[float]] = {"old": [], "new": []}
    for round_ in range(args.rounds):
        for label, src in (("old", old_src), ("new", ROOT / "src")):
            store = work / f"store-{label}-{round_}"
            times[label].append(_timed(src, work / "series", task_yaml, store))
            print(f"  round {round_ + 1} {label}: {times[label][-1]:6.2f} s", flush=True)
    for label, values in times.items():
        print(f"{label} ({args.old if label == 'old' else 'this tree'}): best {min(values):.2f} s, "
              f"median {statistics.median(values):.2f} s")
    ratio = min(times["new"]) / min(times["old"])
    print(f"new / old (best): {ratio:.3f}  loadavg: {open('/proc/loadavg').read().split()[:3]}")
    shutil.rmtree(work, ignore_errors=True)


def _timed(src: Path, series: Path, task_yaml: Path, store: Path) -> float:
    command = [sys.executable, "-m", "ckptlens", "eval", str(series), "--tasks", str(task_yaml), "--store", str(store),
               "--batch-size", "32", "--device", "cpu"]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(src), "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1",
           "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"ckptlens eval ({src}) failed:\n{done.stderr[-3000:]}")
    return time.perf_counter() - start


if __name__ == "__main__":
    main()
