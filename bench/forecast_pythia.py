"""Backtest `ckptlens forecast` on the published Pythia evaluations (issue 23's acceptance figures).

    python bench/forecast_pythia.py [--data ../shared/data/pythia-evals] [--work /tmp/forecast-pythia]

Imports the 7 sizes (zero-shot and five-shot) into two stores under --work (once; reused after), then prints:
- zero-shot, each size from 410m up cut at step 43,000 and at 23,000 (the other sizes' whole curves in the
  store), forecasting step 143,000: per-size and overall MAE over the (size, task) pairs whose final acc is more
  than 5 points above chance on arc_easy, arc_challenge, piqa, sciq, winogrande, lambada_openai, the coverage
  of the 90% intervals, their mean width, how many of them reach the ceiling (asymptote not identified at the
  cut), and the last-value and within-run power-law baselines on the same pairs;
- the same with --ladder none;
- leave-one-size-out over all 7 sizes (each forecast from the other six), zero-shot and five-shot (five-shot
  was the development split the settings were chosen on);
- the time of a forecast of every task of all 7 runs (API, one read of the store) and of one CLI call.
"""

from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from ckptlens.analysis.forecast import (
    ForecastConfig,
    backtest,
    backtest_summary,
    forecast_curve,
    siblings_of,
    store_curves,
)
from ckptlens.store import Store

SIZES = ("70m", "160m", "410m", "1.4b", "2.8b", "6.9b", "12b")
TASKS = ("arc_easy", "arc_challenge", "piqa", "sciq", "winogrande", "lambada_openai")
TARGETS = [f"pythia-{s}" for s in SIZES[2:]]  # 410m up


def build_store(data: Path, shots: str, store: Path) -> Store:
    if not (store / "runs").is_dir():
        for size in SIZES:
            folder = data / f"pythia-{size}" / shots
            command = ["ckptlens", "import", "lm-eval", str(folder), "--store", str(store), "--run", f"pythia-{size}"]
            subprocess.run(command, check=True, capture_output=True)
    return Store(store)


def pts(value) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def report(title: str, rows: list[dict], runs: list[str]) -> dict:
    rows = [r for r in rows if r["task"] in TASKS]
    print(f"\n{title}")
    print(f"  {'run':12s} pairs   MAE  last  within  cover  width  unidentified")
    for run in [*runs, None]:
        mine = [r for r in rows if run is None or r["run"] == run]
        s = backtest_summary(mine)
        if not s["pairs"]:
            print(f"  {run or 'all':12s} {0:5d}  no forecast")
            continue
        width = 100 * np.mean([r["hi"] - r["lo"] for r in mine if r["above_chance"] and r["predicted"] is not None])
        print(f"  {run or 'all':12s} {s['pairs']:5d} {pts(s['mae'])} {pts(s['mae_last_value'])} "
              f"{pts(s['mae_within']):>7s} {s['coverage']:5.0%} {width:6.2f} {s['unidentified']:5d}")
    s = backtest_summary(rows)
    ratio = (s["mae_on_within_pairs"] / s["mae_within"]) if s["mae_within"] else None
    if ratio is not None:
        print(f"  forecast / within-run MAE on the {s['within_pairs']} pairs the fit can forecast: "
              f"{s['mae_on_within_pairs']:.2f} / {s['mae_within']:.2f} = {ratio:.0%}")
    else:
        print("  within-run fit: no pair has 4 checkpoints after the fit start (0.05 of the cut)")
    return s


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/pythia-evals")
    parser.add_argument("--work", type=Path, default=Path("/tmp/forecast-pythia"))
    args = parser.parse_args()
    zero = build_store(args.data, "zero-shot", args.work / "zero-shot")
    five = build_store(args.data, "five-shot", args.work / "five-shot")
    config = ForecastConfig()
    curves, sizes = store_curves(zero, config)
    for cut in (43000, 23000):
        report(f"zero-shot, cut at step {cut}, ladder auto", backtest(curves, sizes, cut, config, TARGETS), TARGETS)
        none = ForecastConfig(ladder="none")
        report(f"zero-shot, cut at step {cut}, --ladder none", backtest(curves, sizes, cut, none, TARGETS), TARGETS)
    everyone = [f"pythia-{s}" for s in SIZES]
    report("leave-one-size-out, zero-shot, cut 43000 (all 7 sizes)", backtest(curves, sizes, 43000, config, everyone),
           everyone)
    curves5, sizes5 = store_curves(five, config)
    for cut in (43000, 23000):
        report(f"five-shot (development split), cut {cut}, 410m up", backtest(curves5, sizes5, cut, config, TARGETS),
               TARGETS)
    report("leave-one-size-out, five-shot, cut 43000 (all 7 sizes)", backtest(curves5, sizes5, 43000, config,
                                                                              everyone), everyone)
    timing(zero, config)


def timing(store: Store, config: ForecastConfig) -> None:
    start, cpu = time.perf_counter(), time.process_time()
    curves, sizes = store_curves(store, config)
    rows = [forecast_curve(c, 200_000, siblings_of(c, curves, "auto"), sizes, config) for c in curves]
    api, api_cpu = time.perf_counter() - start, time.process_time() - cpu
    print(f"\nspeed: forecast of {len(rows)} (run, task) curves of {len(sizes)} runs at step 200,000 (API, one read "
          f"of the store): {api:.1f} s wall, {api_cpu:.1f} s CPU")
    start, before = time.perf_counter(), resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(["ckptlens", "forecast", "--store", str(store.root), "--at-step", "200000", "--format", "json"],
                   check=True, capture_output=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    print(f"  ckptlens forecast --store {store.root} --at-step 200000 (all 7 runs, every task): "
          f"{time.perf_counter() - start:.1f} s wall, {cpu:.1f} s CPU")
    print(f"loadavg: {Path('/proc/loadavg').read_text().strip()}", file=sys.stdout)
    assert all(np.isfinite(r["predicted"]) for r in rows)


if __name__ == "__main__":
    main()
