"""Memory and speed of ``ckptlens drift`` on 4 checkpoints of a ~100M-parameter model.

    python bench/drift_memory.py [--work DIR] [--keep]

The checkpoints are the ones ``bench/mergekit_compare.py`` builds (float32
Llama, random weights). Drift streams both checkpoints of each neighbouring
pair tensor by tensor from memory maps, so its anonymous memory should stay
far below the issue's bound of one model in float32 plus one tensor. Printed:
peak anonymous memory above the interpreter (sampled every 2 ms in a fresh
process), that bound, wall time, and the read rate against `cat` of the same
files with a warm page cache. The result is checked against a direct float64
torch computation of the whole-model relative L2 and cosine of the first pair.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from mergekit_compare import BIG, build_checkpoints, timed
from safetensors.torch import load_file

PROBE = """
import json, sys, threading, time
from ckptlens.diagnostics import series_drift
peak, done = {"RssAnon": 0}, False
def anon():
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith("RssAnon"))
def sample():
    while not done:
        peak["RssAnon"] = max(peak["RssAnon"], anon())
        time.sleep(0.002)
baseline = anon()
thread = threading.Thread(target=sample); thread.start()
start = time.perf_counter()
rows = series_drift(sys.argv[1])
seconds = time.perf_counter() - start
done = True; thread.join()
whole = [r.to_dict() for r in rows if r.module == "all"]
print(json.dumps({"seconds": seconds, "baseline": baseline, "peak": peak["RssAnon"], "whole": whole}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the scratch folder")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="ckptlens-drift-"))
    try:
        measure(work)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(work: Path) -> None:
    folders = build_checkpoints(work / "big", BIG, 4)
    files = [f / "model.safetensors" for f in folders]
    timed(["cat", *map(str, files)], stdout=subprocess.DEVNULL)  # warms the page cache
    cat_seconds = min(timed(["cat", *map(str, files)], stdout=subprocess.DEVNULL)[0] for _ in range(3))
    runs = [probe(work / "big") for _ in range(3)]
    best = min(runs, key=lambda r: r["seconds"])
    peak = max(r["peak"] - r["baseline"] for r in runs)
    first, second = load_file(str(files[0])), load_file(str(files[1]))
    model_bytes = sum(t.numel() * 4 for t in first.values())
    largest = max(t.numel() * 4 for t in first.values())
    expected = direct_drift(first, second)
    got = best["whole"][0]
    mib = 2**20
    pairs_bytes = 2 * sum(f.stat().st_size for f in files[:-1])  # each pair reads both of its checkpoints
    bound = model_bytes + largest
    all_bytes = sum(f.stat().st_size for f in files)
    print(f"drift over {len(files)} checkpoints of {model_bytes / 4e6:.1f}M float32 parameters, {len(files) - 1} pairs")
    print(f"  peak anonymous memory above the interpreter {peak / mib:.0f} MiB; bound one model + one tensor "
          f"{bound / mib:.0f} MiB (peak / bound = {peak / bound:.3f})")
    print(f"  wall {best['seconds']:.2f} s (best of 3 fresh processes), {pairs_bytes / best['seconds'] / mib:.0f} "
          f"MiB/s read; cat of the 4 files {cat_seconds:.2f} s ({all_bytes / cat_seconds / mib:.0f} MiB/s)")
    print(f"  first pair vs direct float64 torch: relative L2 {got['relative_l2']:.10f} vs {expected[0]:.10f}, "
          f"cosine {got['cosine']:.10f} vs {expected[1]:.10f}")


def probe(series: Path) -> dict:
    done = subprocess.run([sys.executable, "-c", PROBE, str(series)], check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


def direct_drift(a: dict, b: dict) -> tuple[float, float]:
    """Whole-model relative L2 and cosine of two state dicts, one float64 vector each."""
    va = torch.cat([a[n].double().flatten() for n in sorted(a)])
    vb = torch.cat([b[n].double().flatten() for n in sorted(a)])
    return float((vb - va).norm() / va.norm()), float(va @ vb / (va.norm() * vb.norm()))


if __name__ == "__main__":
    main()
