"""Time `ckptlens import lm-eval` on 100 checkpoints x 10 tasks x 5,000 examples of lm-eval samples.

    python bench/import_speed.py [--checkpoints 100] [--tasks 10] [--examples 5000] [--keep DIR]

Writes synthetic outputs in lm-eval 0.4.x's real layout and format into a temporary
folder (one ``EleutherAI__pythia-1b/`` folder, one ``results_<stamp>.json`` and ten
``samples_<task>_<stamp>.jsonl`` per revision; zero-shot 4-choice questions with
their documents, arguments, sanitised responses and SHA-256 hashes, ~1.6 kB a
line, ~8 GB in all), then imports them and prints the import time (target: under
60 s on a 2-core CPU) and the time ``stability_table`` takes on the imported store.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import resource
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.importers import import_lm_eval
from ckptlens.store import Store

MODEL = "EleutherAI/pythia-1b"
CHOICES = 4


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def task_lines(task: str, n: int) -> tuple[list[str], list[str], np.ndarray, str]:
    """Per example: the line up to ``"resps"`` and from ``"filter"`` on; the gold indices; the task hash."""
    rng = np.random.default_rng(abs(hash(task)) % 2**32)
    gold = rng.integers(0, CHOICES, n)
    heads, tails, hashes = [], [], []
    for i in range(n):
        question = f"{task} question {i}: which of the following best explains what happens when water is heated?"
        choices = [f"option {c} for {task} question {i} with some words" for c in range(CHOICES)]
        doc = {"id": f"{task}-{i}", "question": question, "choices": {"text": choices, "label": list("ABCD")},
               "answerKey": "ABCD"[gold[i]]}
        context = f"Question: {question}\nAnswer:"
        arguments = {f"gen_args_{c}": {"arg_0": context, "arg_1": f" {choice}"} for c, choice in enumerate(choices)}
        doc_hash, prompt_hash, target_hash = sha(json.dumps(doc, indent=2)), sha(context), sha(str(gold[i]))
        hashes.append(doc_hash + prompt_hash + target_hash)
        head = {"doc_id": i, "doc": doc, "target": str(gold[i]), "arguments": arguments}
        tail = {"filter": "none", "metrics": ["acc", "acc_norm"], "doc_hash": doc_hash, "prompt_hash": prompt_hash,
                "target_hash": target_hash}
        heads.append(json.dumps(head, ensure_ascii=False)[:-1])
        tails.append(json.dumps(tail)[1:-1])
    return heads, tails, gold, sha("".join(hashes))


def write_checkpoint(folder: Path, step: int, stamp: str, tasks: dict, rng: np.random.Generator) -> None:
    results = {}
    for task, (heads, tails, gold, _) in tasks.items():
        logliks = rng.normal(-10.0, 2.0, (len(heads), CHOICES)) - 3.0 * (np.arange(CHOICES) != gold[:, None])
        acc = (logliks.argmax(axis=1) == gold).astype(float)
        with (folder / f"samples_{task}_{stamp}.jsonl").open("w", encoding="utf-8") as f:
            for head, tail, row, a in zip(heads, tails, logliks.tolist(), acc.tolist(), strict=True):
                pairs = [f'["{x}", "False"]' for x in row]
                f.write(f'{head}, "resps": [{", ".join(f"[{p}]" for p in pairs)}], '
                        f'"filtered_resps": [{", ".join(pairs)}], {tail}, "acc": {a}, "acc_norm": {a}}}\n')
        results[task] = {"alias": task, "acc,none": float(acc.mean()), "acc_stderr,none": 0.006}
    data = {"results": results, "n-shot": {t: 0 for t in tasks},
            "config": {"model": "hf", "model_args": f"pretrained={MODEL},revision=step{step}",
                       "model_revision": f"step{step}", "model_dtype": "torch.float16"},
            "task_hashes": {task: value[3] for task, value in tasks.items()}, "model_name": MODEL}
    (folder / f"results_{stamp}.json").write_text(json.dumps(data, indent=2))


def generate(out: Path, n_checkpoints: int, n_tasks: int, n_examples: int) -> None:
    folder = out / MODEL.replace("/", "__")  # lm-eval writes every revision of a model into one folder
    folder.mkdir(parents=True)
    tasks = {f"task{t:02d}": task_lines(f"task{t:02d}", n_examples) for t in range(n_tasks)}
    rng = np.random.default_rng(0)
    for k in range(n_checkpoints):
        write_checkpoint(folder, 1000 * (k + 1), f"2024-05-01T12-{k // 60:02d}-{k % 60:02d}.000000", tasks, rng)


def cpu_seconds() -> float:
    """CPU time of this process and its finished workers: comparable across runs when other jobs share the CPU."""
    usages = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    return sum(u.ru_utime + u.ru_stime for u in usages)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoints", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=10)
    parser.add_argument("--examples", type=int, default=5000)
    parser.add_argument("--keep", type=Path, help="Write here and keep it (default: a temporary folder, removed).")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="ckptlens-import-bench-"))
    try:
        start = time.perf_counter()
        generate(root / "lm-eval-out", args.checkpoints, args.tasks, args.examples)
        size = sum(p.stat().st_size for p in (root / "lm-eval-out").rglob("*")) / 1e9
        print(f"generated {size:.1f} GB of lm-eval output in {time.perf_counter() - start:.0f} s")
        start, cpu = time.perf_counter(), cpu_seconds()
        summary = import_lm_eval([root / "lm-eval-out"], root / "store")
        print(f"import: {time.perf_counter() - start:.1f} s wall, {cpu_seconds() - cpu:.1f} s CPU (all processes) for "
              f"{summary.records:,} records ({summary.checkpoints} checkpoints, {summary.tasks_with_samples} tasks)")
        start = time.perf_counter()
        rows = stability_table(Store(root / "store"), StabilityConfig())
        print(f"stability_table: {time.perf_counter() - start:.1f} s for {len(rows)} rows")
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
