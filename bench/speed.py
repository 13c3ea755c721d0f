"""Whole commands, ckptlens against lm-evaluation-harness 0.4.13, timed in one run on this machine.

    python bench/lmeval_parity.py --install        # once: lm-eval's environment in bench/.envs
    python bench/speed.py single --model small --examples 200     # 3.4M-parameter GPT-NeoX
    python bench/speed.py single --model 86m --examples 60        # Pythia-160m width and depth
    python bench/speed.py series --checkpoints 10 --examples 100  # one `ckptlens eval` vs ten `lm-eval run`
    python bench/speed.py tokens --examples 200   # tokens run / tokens that must run, fixed and random few-shot
    python bench/speed.py faults --model 86m --examples 60  # page faults and peak memory per pass, glibc's
                                                            # default allocator settings vs the CLI's

Each command runs in its own process, wall clock from start to exit, so start-up,
loading, tokenising, scoring and writing all count. Both tools read the same
4-shot multiple-choice lm-eval YAML (``sampler: first_n``, options of 2-5 words,
from ``lmeval_parity``), the same float32 checkpoint folders and the same
``--batch-size``, on CPU with torch's default threads. Checkpoints have random
weights (fixed seeds) and a byte-level BPE vocabulary of 512 trained here.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

sys.path.insert(0, str(Path(__file__).parent))
from lmeval_parity import ENV, build_checkpoint, write_task  # noqa: E402

from ckptlens.checkpoints.loading import load_model  # noqa: E402
from ckptlens.evaluation.scoring import TokenCount, encode_pair, score_multiple_choice  # noqa: E402
from ckptlens.tasks.lm_eval_yaml import load_lm_eval_task  # noqa: E402
from ckptlens.tasks.task import Example  # noqa: E402

SHAPES = {  # GPT-NeoX shapes: (hidden, layers, heads, intermediate)
    "small": (256, 4, 4, 1024),  # 3.4M parameters with the 512-token vocabulary
    "86m": (768, 12, 12, 3072),  # Pythia-160m's width and depth: 86M parameters with it
}
TASK = "speed_multi"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["single", "series", "tokens", "faults"])
    parser.add_argument("--model", choices=sorted(SHAPES), default="small")
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--checkpoints", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--batch-tokens", type=int, default=None, help="ckptlens only (default: none on CPU)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ckptlens-speed-"))
    task_yaml = write_task(work / "tasks", TASK, "multi", args.examples)
    if args.mode == "tokens":
        return token_efficiency(work, task_yaml, args)
    if args.mode == "faults":
        return page_faults(work, task_yaml, args)
    if not (ENV / "bin" / "python").is_file():
        sys.exit(f"no lm-eval environment at {ENV}; run `python bench/lmeval_parity.py --install` first")
    count = 1 if args.mode == "single" else args.checkpoints
    series = build_series(work / "series", args.model, count)
    print(f"{count} checkpoint(s) of {args.model} ({n_params(series[0]) / 1e6:.1f}M parameters), "
          f"{args.examples} examples, batch size {args.batch_size}; work folder {work}")  # fmt: skip
    lm_eval = sum(timed(lm_eval_command(folder, task_yaml, args.batch_size), "lm-eval run") for folder in series)
    ours = timed(ckptlens_command(work, task_yaml, args), "ckptlens eval")
    print(f"\nlm-eval : {lm_eval:7.1f} s for {count} checkpoint(s), {lm_eval / count:6.1f} s per checkpoint")
    print(f"ckptlens: {ours:7.1f} s for {count} checkpoint(s), {ours / count:6.1f} s per checkpoint")
    print(f"ratio   : {lm_eval / ours:.1f}x")


def build_series(folder: Path, model: str, count: int) -> list[Path]:
    """``count`` checkpoints of one shape (seeds 0..count-1), one tokenizer, named step000001 ..."""
    base = build_checkpoint(folder / "pythia-70m-shaped")  # trains the tokenizer; its weights are replaced
    hidden, layers, heads, intermediate = SHAPES[model]
    config = GPTNeoXConfig.from_pretrained(base)
    config.update({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                   "intermediate_size": intermediate})  # fmt: skip
    folders = []
    for seed in range(count):
        torch.manual_seed(seed)
        target = folder / f"step{seed + 1:06d}"
        GPTNeoXForCausalLM(config).save_pretrained(target)
        for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
            if (base / name).is_file():
                (target / name).write_bytes((base / name).read_bytes())
        folders.append(target)
    for path in sorted(base.iterdir()):
        path.unlink()
    base.rmdir()
    return folders


def n_params(folder: Path) -> int:
    model, _ = load_model(folder, device="cpu")
    return sum(p.numel() for p in model.parameters())


def lm_eval_command(folder: Path, task_yaml: Path, batch_size: int) -> list[str]:
    return [str(ENV / "bin" / "python"), "-m", "lm_eval", "run", "--model", "hf",
            "--model_args", f"pretrained={folder},dtype=float32", "--tasks", TASK,
            "--include_path", str(task_yaml.parent), "--batch_size", str(batch_size), "--device", "cpu"]  # fmt: skip


def ckptlens_command(work: Path, task_yaml: Path, args) -> list[str]:
    command = [sys.executable, "-m", "ckptlens", "eval", str(work / "series"), "--tasks", str(task_yaml),
               "--store", str(work / "store"), "--batch-size", str(args.batch_size), "--device", "cpu"]  # fmt: skip
    return command + (["--batch-tokens", str(args.batch_tokens)] if args.batch_tokens else [])


def timed(command: list[str], label: str) -> float:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
    print(f"  {label:14s} {seconds:6.1f} s")
    return seconds


def token_efficiency(work: Path, task_yaml: Path, args) -> None:
    """Tokens run / tokens that must run, on the fixed-prefix task and with demonstrations drawn per example."""
    folder = build_series(work / "series", "small", 1)[0]
    model, tokenizer = load_model(folder, device="cpu")
    fixed = list(load_lm_eval_task(task_yaml).examples)
    for label, examples in (("fixed 4-shot (first_n)", fixed), ("random 4-shot of 20", _random_shots(fixed))):
        count = TokenCount()
        score_multiple_choice(model, tokenizer, examples, args.batch_size, batch_tokens=args.batch_tokens,
                              count=count)  # fmt: skip
        per_request = sum(len(c) + len(t) - 1 for e in examples for c, t in
                          (encode_pair(tokenizer, e.context, choice) for choice in e.choices))  # fmt: skip
        print(f"{label:24s} run {count.run:7d}  must run {count.needed:7d}  efficiency {count.efficiency:.3f}   "
              f"(one pass per option, as lm-eval: {per_request} = {per_request / count.needed:.2f}x)")  # fmt: skip


PASSES = """
import resource, sys, time
from pathlib import Path
if sys.argv[1] == "tuned":
    from ckptlens.cli.allocator import keep_freed_memory
    keep_freed_memory()
from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation.scoring import Batching, encode_examples, score_encoded
from ckptlens.tasks.lm_eval_yaml import load_lm_eval_task
model, tokenizer = load_model(Path(sys.argv[2]), device="cpu")
examples = list(load_lm_eval_task(Path(sys.argv[3])).examples)
encoded = encode_examples(tokenizer, examples)
loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
for n in (1, 2):
    faults, cpu, wall = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.process_time(), time.perf_counter()
    score_encoded(model, examples, encoded, Batching(int(sys.argv[4]), int(sys.argv[5])))
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults
    print(f"{sys.argv[1]:8s} pass {n}: {faults:8d} minor page faults, "
          f"wall {time.perf_counter() - wall:5.2f} s, cpu {time.process_time() - cpu:5.2f} s")
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - loaded) / 1024
print(f"{sys.argv[1]:8s} peak memory above the loaded model and tokens: {peak:.0f} MiB")
"""


def page_faults(work: Path, task_yaml: Path, args) -> None:
    """Two scoring passes over the task, with glibc's default allocator and with the command line's setting."""
    folder = build_series(work / "series", args.model, 1)[0]
    print(f"{args.model}: {n_params(folder) / 1e6:.1f}M parameters, {args.examples} examples (the first pass also "
          "faults in the weights)")  # fmt: skip
    for setting in ("default", "tuned"):
        command = [sys.executable, "-c", PASSES, setting, str(folder), str(task_yaml), str(args.batch_size),
                   str(args.batch_tokens or 2048)]  # fmt: skip
        print(subprocess.run(command, capture_output=True, text=True, check=True).stdout, end="")


def _random_shots(fixed: list[Example]) -> list[Example]:
    """The same questions, each with 4 demonstrations drawn (seed 1234) from 20, as lm-eval's default sampler."""
    rng = random.Random(1234)
    pool = [e.context.split("\n\n")[-1] + e.choices[e.gold] for e in fixed[:20]]
    out = []
    for e in fixed:
        shots = "\n\n".join(rng.sample(pool, 4))
        out.append(Example(e.id, shots + "\n\n" + e.context.split("\n\n")[-1], e.choices, e.gold))
    return out


if __name__ == "__main__":
    main()
