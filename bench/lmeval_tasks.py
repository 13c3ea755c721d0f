"""lm-eval's own ARC-Easy, HellaSwag and MMLU (anatomy) on ckptlens's engine vs ``lm_eval --log_samples``.

    python bench/lmeval_tasks.py                  # uses lm-eval from this interpreter (pip install 'ckptlens[lm-eval]')
    python bench/lmeval_tasks.py --install        # or: first builds bench/.envs/lmeval-0.4.13 and uses its lm_eval
    python bench/lmeval_tasks.py --docs 60 --threads 2

Three of lm-eval's own task YAMLs (``arc_easy``; ``hellaswag`` with its
``process_docs``; ``mmlu_anatomy``) are redirected to local JSON-lines data of
the same schema by YAMLs in an include path that ``include:`` the installed
originals (what an offline user writes). A 2-checkpoint series of a
Pythia-70m-shaped GPT-NeoX (random weights, seeds 0 and 1, a byte-level BPE
tokenizer trained here) is evaluated 3-shot with each YAML's own sampler
(lm-eval's default, seeded 1234) by one ``ckptlens eval`` command and by one
``lm_eval`` command per checkpoint, both whole commands timed. Printed: the
largest per-choice |Δ log-likelihood|, per-example acc/acc_norm disagreements
(apart from near-ties, best two options within 1e-4), task means against
lm-eval's results JSON, the wall-clock ratio, and token efficiency: tokens each
tool runs / tokens that must be run (the prefix tree of every request's input).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lmeval_parity import ENV, WORDS, build_checkpoint, install_lm_eval

TASKS = ("arc_easy", "hellaswag", "mmlu_anatomy")
ORIGINALS = {"arc_easy": "arc/arc_easy.yaml", "hellaswag": "hellaswag/hellaswag.yaml",
             "mmlu_anatomy": "mmlu/default/mmlu_anatomy.yaml"}
NEAR_TIE = 1e-4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help=f"create {ENV} with lm-eval and use its lm_eval")
    parser.add_argument("--docs", type=int, default=60, help="test documents per task")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    python = _lm_eval_python(args.install)
    work = Path(tempfile.mkdtemp(prefix="ckptlens-lmeval-tasks-"))
    print(f"work folder: {work}")
    series = work / "series"
    for step, seed in ((1000, 0), (2000, 1)):
        build_checkpoint(series / f"step{step:06d}", seed=seed)
    include = write_include_path(work, python, args.docs)
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "OMP_NUM_THREADS": str(args.threads), "HF_DATASETS_CACHE": str(work / "hf-cache")}
    lm_eval_seconds = sum(run_lm_eval(python, ckpt, include, work / "lm_eval" / ckpt.name, args, env)
                          for ckpt in sorted(series.iterdir()))
    ckptlens_seconds = run_ckptlens(series, include, work / "store", args, env)
    report(work, series, include, lm_eval_seconds, ckptlens_seconds)


def _lm_eval_python(install: bool) -> str:
    if install:
        install_lm_eval()
        return str(ENV / "bin" / "python")
    try:
        import lm_eval  # noqa: F401
    except ImportError:
        sys.exit("lm-eval is not installed here: pip install 'ckptlens[lm-eval]', or run with --install")
    return sys.executable


def write_include_path(work: Path, python: str, n: int) -> Path:
    """Local data of each task's schema and a YAML that includes the installed original and reads it."""
    where = "import lm_eval.tasks, os; print(os.path.dirname(lm_eval.tasks.__file__))"
    root = Path(subprocess.run([python, "-c", where], capture_output=True, text=True, check=True).stdout.strip())
    folder, rng = work / "tasks", random.Random(0)
    folder.mkdir(parents=True)
    splits = {"arc_easy": ("train", "validation", "test"), "hellaswag": ("train", "validation"),
              "mmlu_anatomy": ("dev", "test")}
    for task, names in splits.items():
        files = {}
        for split in names:
            count = n if split in ("test", "validation") else 20
            path = folder / f"{task}_{split}.jsonl"
            path.write_text("".join(json.dumps(DOCS[task](rng, i)) + "\n" for i in range(count)))
            files[split] = str(path)
        data_files = "".join(f"    {split}: {path}\n" for split, path in files.items())
        (folder / f"{task}.yaml").write_text(
            f"include: {root / ORIGINALS[task]}\ntask: {task}\ndataset_path: json\ndataset_name: null\n"
            f"dataset_kwargs:\n  data_files:\n{data_files}"
        )
    return folder


def _words(rng: random.Random, low: int, high: int) -> str:
    return " ".join(rng.choices(WORDS, k=rng.randint(low, high)))


def _arc(rng: random.Random, i: int) -> dict:
    labels = ["A", "B", "C", "D"]
    return {"id": f"arc-{i}", "question": _words(rng, 6, 14) + "?",
            "choices": {"text": [_words(rng, 1, 4) for _ in labels], "label": labels}, "answerKey": rng.choice(labels)}


def _hellaswag(rng: random.Random, i: int) -> dict:
    ctx_a, ctx_b = _words(rng, 8, 16) + ".", _words(rng, 2, 5)
    return {"ind": i, "activity_label": _words(rng, 1, 2).title(), "ctx_a": ctx_a, "ctx_b": ctx_b,
            "ctx": f"{ctx_a} {ctx_b}", "endings": [_words(rng, 6, 14) + "." for _ in range(4)],
            "source_id": f"s{i}", "split": "val", "split_type": "indomain", "label": str(rng.randrange(4))}


def _mmlu(rng: random.Random, i: int) -> dict:
    return {"question": _words(rng, 6, 16) + "?", "subject": "anatomy",
            "choices": [_words(rng, 1, 5) for _ in range(4)], "answer": rng.randrange(4)}


DOCS = {"arc_easy": _arc, "hellaswag": _hellaswag, "mmlu_anatomy": _mmlu}


def run_lm_eval(python: str, checkpoint: Path, include: Path, out: Path, args, env: dict) -> float:
    """One whole ``lm_eval`` command for one checkpoint; its wall-clock seconds."""
    command = [python, "-m", "lm_eval", "--model", "hf", "--model_args", f"pretrained={checkpoint},dtype=float32",
               "--tasks", ",".join(TASKS), "--include_path", str(include), "--num_fewshot", "3",
               "--batch_size", str(args.batch_size), "--device", "cpu", "--output_path", str(out), "--log_samples"]
    return _timed(command, env, "lm_eval")


def run_ckptlens(series: Path, include: Path, store: Path, args, env: dict) -> float:
    """One whole ``ckptlens eval`` command over the series; its wall-clock seconds."""
    command = [sys.executable, "-m", "ckptlens", "eval", str(series),
               "--tasks", ",".join(f"lm-eval:{t}" for t in TASKS), "--include-path", str(include),
               "--num-fewshot", "3", "--batch-size", str(args.batch_size), "--device", "cpu", "--store", str(store)]
    return _timed(command, env, "ckptlens eval")


def _timed(command: list[str], env: dict, name: str) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{name} failed:\n{done.stderr[-3000:]}")
    print(f"{name}: {seconds:.1f} s")
    return seconds


def report(work: Path, series: Path, include: Path, lm_eval_seconds: float, ckptlens_seconds: float) -> None:
    from ckptlens.store import Store

    records = Store(work / "store").read().to_pylist()
    ours = {(r["checkpoint"], r["task"], int(r["example_id"])): r for r in records}
    worst, flips, ties, means_equal = 0.0, 0, 0, True
    for checkpoint in sorted(p.name for p in series.iterdir()):
        folder = work / "lm_eval" / checkpoint
        results = json.loads(next(folder.rglob("results_*.json")).read_text())["results"]
        for task in TASKS:
            lines = next(folder.rglob(f"samples_{task}_*.jsonl")).read_text().splitlines()
            samples = [json.loads(line) for line in lines]
            for sample in samples:
                row = ours[(checkpoint, task, sample["doc_id"])]
                theirs = [float(r[0]) for r in sample["filtered_resps"]]
                worst = max(worst, *(abs(a - b) for a, b in zip(row["logliks"], theirs, strict=True)))
                metrics = dict(row["metrics"])
                for name, scale in (("acc", [1] * len(theirs)), ("acc_norm", row["choice_chars"])):
                    if name in sample and metrics[name] != sample[name]:
                        ties += _near_tie([ll / c for ll, c in zip(theirs, scale, strict=True)])
                        flips += not _near_tie([ll / c for ll, c in zip(theirs, scale, strict=True)])
            for name in (m for m in ("acc", "acc_norm") if m in samples[0]):
                mine = sum(dict(ours[(checkpoint, task, s["doc_id"])]["metrics"])[name] for s in samples) / len(samples)
                theirs_mean = results[task][f"{name},none"]
                means_equal &= abs(mine - theirs_mean) < 1e-12
                print(f"{checkpoint} {task:13s} {name:8s} ckptlens {mine:.4f}  lm-eval {theirs_mean:.4f}")
    print(f"largest per-choice |Δ loglik|: {worst:.2e} (float32)")
    print(f"acc/acc_norm disagreements: {flips} (near-ties within {NEAR_TIE}: {ties}); task means equal: {means_equal}")
    print(f"whole commands: lm_eval x2 {lm_eval_seconds:.1f} s, ckptlens eval {ckptlens_seconds:.1f} s, "
          f"{lm_eval_seconds / ckptlens_seconds:.1f}x faster")
    print_token_efficiency(series, include)


def _near_tie(scores: list[float]) -> bool:
    best = sorted(scores, reverse=True)
    return len(best) > 1 and best[0] - best[1] < NEAR_TIE


def print_token_efficiency(series: Path, include: Path) -> None:
    """Tokens run per checkpoint, padding aside: ckptlens (its prefix plan: each shared prefix once, each context
    once) and lm-eval (every request whole), against the tokens that must be run (the prefix tree of every
    request's input)."""
    from ckptlens.checkpoints.loading import load_model
    from ckptlens.evaluation.prefix_tree import needed_tokens, plan_prefixes
    from ckptlens.evaluation.scoring import encode_pair
    from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks

    _, tokenizer = load_model(sorted(series.iterdir())[0], device="cpu")
    tasks = build_lm_eval_tasks(list(TASKS), LmEvalOptions((str(include),), num_fewshot=3))
    ours = theirs = must = 0
    for task in tasks:
        encoded, inputs = [], []
        for requests in task.lm_eval.instances.values():
            pairs = [encode_pair(tokenizer, *r.arguments) for r in requests]
            encoded.append((pairs[0][0], [c for _, c in pairs]))
            inputs += [tuple(ctx + cont[:-1]) for ctx, cont in pairs]
        plan = plan_prefixes([ctx for ctx, _ in encoded])
        ours += sum(len(node.tokens) for node in plan.nodes)
        ours += sum(len(ctx) - start + sum(len(c) - 1 for c in conts)
                    for (ctx, conts), start in zip(encoded, plan.leaf_start, strict=True))
        theirs += sum(len(i) for i in inputs)
        must += needed_tokens(inputs)
    print(f"token efficiency (tokens run / tokens that must be run, per checkpoint): ckptlens {ours / must:.2f} "
          f"({ours} / {must}), lm-eval {theirs / must:.2f} ({theirs} / {must})")

if __name__ == "__main__":
    main()
