"""What ``eval --representations`` costs on the demo: time and store growth, against the same eval without it.

    python bench/representations_overhead.py [--series /tmp/demo-final/series] [--steps 80:480:80] [--pairs 3]

Each pair runs ``ckptlens eval SERIES --steps STEPS`` (the demo's own tasks: 3 multiple choice, 1 generation; 6 of
its 50 checkpoints by default) twice, into fresh stores ``/tmp/reps-plain-<i>`` and ``/tmp/reps-states-<i>``, once
without and once with ``--representations``, the order alternating between pairs so that a machine warming up or
getting busier does not favour one side. Wall time of the whole command (start-up included) per run.

Printed: every run's seconds, the median of the per-pair ratios (with / without; acceptance: at most 1.15), that the
records of both stores are identical, the bytes the representations add per (example, checkpoint) (acceptance: at
most 2048), then the same ratio on the scoring passes alone, per task (``evaluate_task`` on each checkpoint, with
and without a states collector back to back, one thread: start-up, loading and writing left out), and
``/proc/loadavg`` before and after (the machine is shared: the lead reruns this on a quiet one).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"


def run_eval(series: str, steps: str, store: Path, states: bool) -> float:
    shutil.rmtree(store, ignore_errors=True)
    command = [sys.executable, "-m", "ckptlens", "eval", series, "--steps", steps, "--store", str(store),
               "--device", "cpu", *(["--representations"] if states else [])]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def same_records(a: Path, b: Path) -> bool:
    from ckptlens.store import Store

    keys = [(k, "ascending") for k in ("run", "checkpoint", "task", "example_id")]
    return Store(a).read().sort_by(keys).equals(Store(b).read().sort_by(keys))


def growth(store: Path) -> tuple[int, int, int]:
    """(bytes under representations/, examples x checkpoints with states, examples x checkpoints of records)."""
    from ckptlens.store import Store
    from ckptlens.store.representations import read_states, runs_and_tasks

    size = sum(f.stat().st_size for f in (store / "representations").rglob("*") if f.is_file())
    shapes = [read_states(Store(store), run, task).mean.shape for run, task in runs_and_tasks(Store(store))]
    kept = sum(steps * examples for steps, _, examples, _ in shapes)
    return size, kept, Store(store).read(columns=["example_id"]).num_rows


def scoring_passes(series: str, steps: str, repeats: int = 2) -> dict[str, tuple[float, float]]:
    """Per task, seconds of ``evaluate_task`` without and with a states collector, summed over the checkpoints,
    each pair run back to back in alternating order on one thread (no start-up, loading or writing)."""
    import torch

    from ckptlens.checkpoints import open_series
    from ckptlens.checkpoints.loading import load_model
    from ckptlens.evaluation.plan import resolve_task_specs
    from ckptlens.evaluation.rows import evaluate_task
    from ckptlens.evaluation.units import state_collector
    from ckptlens.store.representations import StateSettings
    from ckptlens.tasks.resolve import default_tasks

    torch.set_num_threads(1)
    tasks = resolve_task_specs(default_tasks(Path(series)), Path(series))
    seconds = {t.name: [0.0, 0.0] for t in tasks}
    for checkpoint in open_series(series, steps):
        model, tokenizer = load_model(checkpoint.path, device="cpu")
        for task in tasks:
            for k in range(repeats):
                for kept in ((False, True) if k % 2 == 0 else (True, False)):
                    collector = state_collector(model, task, StateSettings()) if kept else None
                    start = time.perf_counter()
                    evaluate_task(model, tokenizer, task, states=collector)
                    seconds[task.name][kept] += time.perf_counter() - start
    return {name: (without, with_) for name, (without, with_) in seconds.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", default="/tmp/demo-final/series")
    parser.add_argument("--steps", default="80:480:80")
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    print("loadavg before:", Path("/proc/loadavg").read_text().strip())
    ratios = []
    for i in range(args.pairs):
        plain, states = Path(f"/tmp/reps-plain-{i}"), Path(f"/tmp/reps-states-{i}")
        order = (False, True) if i % 2 == 0 else (True, False)
        seconds = {kept: run_eval(args.series, args.steps, states if kept else plain, kept) for kept in order}
        ratios.append(seconds[True] / seconds[False])
        print(f"pair {i}: without {seconds[False]:.2f} s, with --representations {seconds[True]:.2f} s, "
              f"ratio {ratios[-1]:.3f} (ran {'without first' if i % 2 == 0 else 'with first'})")
    print(f"median ratio (with / without) over {len(ratios)} pairs: {statistics.median(ratios):.3f}")
    print("records identical with and without:", same_records(Path("/tmp/reps-plain-0"), Path("/tmp/reps-states-0")))
    size, kept, rows = growth(Path("/tmp/reps-states-0"))
    print(f"representations: {size} bytes for {kept} (example, checkpoint) pairs = {size / kept:.0f} bytes each "
          f"({rows} records; perplexity tasks keep none)")
    passes = scoring_passes(args.series, args.steps)
    for name, (without, with_) in passes.items():
        print(f"scoring passes, {name}: without {without:.2f} s, with {with_:.2f} s, ratio {with_ / without:.3f}")
    total = [sum(v[k] for v in passes.values()) for k in (0, 1)]
    print(f"scoring passes, all tasks: without {total[0]:.2f} s, with {total[1]:.2f} s, "
          f"ratio {total[1] / total[0]:.3f}")
    print("loadavg after:", Path("/proc/loadavg").read_text().strip())


if __name__ == "__main__":
    main()
