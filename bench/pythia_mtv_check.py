"""Check ckptlens's task MTV on the published Pythia evaluations against a direct computation.

    python bench/pythia_mtv_check.py [--data ../shared/data/pythia-evals] [--shots zero-shot]

Imports each size with ``ckptlens import lm-eval``, computes the stability table, and
recomputes task MTV over the final 20% of training straight from the JSON files
(steps >= 0.8 x last step, mean |acc(t+1) - acc(t)|). Prints both and the largest difference.
"""

from __future__ import annotations

import argparse
import glob
import json
import re
import tempfile
from pathlib import Path

from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.importers import import_lm_eval
from ckptlens.store import Store

TASKS = ("arc_easy", "piqa", "lambada_openai", "sciq", "winogrande")
SIZES = ("70m", "160m", "410m", "1.4b", "2.8b", "6.9b", "12b")


def direct_mtv(folder: Path, task: str, last: float = 0.2) -> float:
    """Task MTV of ``acc`` read from the raw files, with no ckptlens code involved."""
    acc = {}
    for path in glob.glob(str(folder / "*.json")):
        data = json.loads(Path(path).read_text())
        step = int(re.search(r"revision=step(\d+)", data["config"]["model_args"]).group(1))
        if task in data["results"]:
            acc[step] = data["results"][task]["acc"]
    steps = [s for s in sorted(acc) if s >= (1 - last) * max(acc)]
    return sum(abs(acc[b] - acc[a]) for a, b in zip(steps, steps[1:])) / (len(steps) - 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[2] / "shared/data/pythia-evals")
    parser.add_argument("--shots", default="zero-shot")
    args = parser.parse_args()
    store = Store(tempfile.mkdtemp(prefix="pythia-store-"))
    for size in SIZES:
        import_lm_eval([args.data / f"pythia-{size}" / args.shots], store, run=f"pythia-{size}")
    rows = {(r.run, r.task): r.task_mtv for r in stability_table(store, StabilityConfig(bootstrap=0))}
    worst = 0.0
    print(f"{'size':<6}{'task':<16}{'ckptlens':>10}{'direct':>10}")
    for size in SIZES:
        for task in TASKS:
            ours, direct = rows[(f"pythia-{size}", task)], direct_mtv(args.data / f"pythia-{size}" / args.shots, task)
            worst = max(worst, abs(ours - direct))
            print(f"{size:<6}{task:<16}{ours:>10.5f}{direct:>10.5f}")
    print(f"largest difference: {worst:.2e}")


if __name__ == "__main__":
    main()
