"""Time `ckptlens demo` end to end in a fresh folder, and print its final stability summary.

    python bench/demo_time.py [--out /tmp/ckptlens-demo-bench]

Prints the total wall time (target: at most 5 minutes on a 2-core CPU) and, for
window 4, per task whether averaging and ensembling have lower example-level
MTV and instability score than the raw checkpoints.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("/tmp/ckptlens-demo-bench"))
    args = parser.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "ckptlens", "demo", "--out", str(args.out)], check=True)
    wall = time.perf_counter() - start
    rows = json.loads((args.out / "report" / "stability.json").read_text())
    print(f"\ndemo wall time: {wall:.0f} s (target <= 300 s)")
    print_window_comparison(rows, window=4)


def print_window_comparison(rows: list[dict], window: int) -> None:
    """Per task: raw vs window-n example MTV and IS, and how many tasks each method improves."""
    by_task = defaultdict(dict)
    for r in rows:
        if r["method"] == "raw" or (r["window"] == window and not r["method"].startswith("adaptive-")):
            by_task[(r["run"], r["task"], r["near_chance"])][r["method"]] = r
    wins = defaultdict(int)
    learned = [k for k in by_task if not k[2]]
    print(f"\n{'task':<22}{'method':<24}{'score':>7}{'ex_MTV':>8}{'IS':>8}")
    for key in sorted(by_task):
        raw = by_task[key]["raw"]
        for method, r in sorted(by_task[key].items(), key=lambda kv: kv[0] != "raw"):
            flag = " (near chance)" if key[2] else ""
            print(f"{key[1] + flag:<22}{method:<24}{r['mean_score']:>7.3f}{r['example_mtv']:>8.3f}"
                  f"{r['instability_score']:>8.3f}")
            if method != "raw" and not key[2]:
                lower = r["example_mtv"] < raw["example_mtv"] and r["instability_score"] < raw["instability_score"]
                wins[method] += lower
    for method, n in sorted(wins.items()):
        print(f"window {window} {method}: lower example MTV and IS than raw on {n} of {len(learned)} learned tasks")


if __name__ == "__main__":
    main()
