"""On a CUDA machine: examples/s and time per checkpoint, ckptlens against lm-eval's HF backend.

    python bench/gpu.py [--examples 500] [--checkpoints 3] [--dtype bfloat16] [--batch-size 64]

Two model shapes built from a config with random weights (no download):
Pythia-160m's (GPT-NeoX, width 768, 12 layers) and a 1B shape (Pythia-1b's:
width 2048, 16 layers, 8 heads), both with Pythia's 50,304-token vocabulary so
the vocabulary projection costs what it costs there (token ids come from a
512-token BPE trained here). Each shape gets a series of ``--checkpoints``
checkpoints; the task is ``speed``'s 4-shot multiple choice. ckptlens runs one
``ckptlens eval`` over the series (its default CUDA token budget from free
memory, SDPA with a boolean tree mask); lm-eval runs ``lm-eval run --model hf``
once per checkpoint with the same ``--batch-size`` and dtype. Wall clock of
whole commands, so start-up and loading count for both.

Without CUDA it stops with a one-line message. lm-eval is taken from this
interpreter when importable, else from ``bench/.envs`` (``lmeval_parity.py --install``).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

sys.path.insert(0, str(Path(__file__).parent))
from lmeval_parity import ENV, build_checkpoint, write_task  # noqa: E402
from speed import TASK, timed  # noqa: E402

SHAPES = {  # (hidden, layers, heads, intermediate)
    "pythia-160m-shaped": (768, 12, 12, 3072),
    "1b-shaped": (2048, 16, 8, 8192),
}
PYTHIA_VOCAB = 50304


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=500)
    parser.add_argument("--checkpoints", type=int, default=3)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default="bfloat16")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("bench/gpu.py needs a CUDA device and none is visible; run it on a GPU machine")
    python = sys.executable if importlib.util.find_spec("lm_eval") else str(ENV / "bin" / "python")
    work = Path(tempfile.mkdtemp(prefix="ckptlens-gpu-"))
    task_yaml = write_task(work / "tasks", TASK, "multi", args.examples)
    print(f"{torch.cuda.get_device_name()}; {args.examples} examples, {args.checkpoints} checkpoints, "
          f"{args.dtype}, batch size {args.batch_size}; work folder {work}")  # fmt: skip
    for shape in SHAPES:
        series = build_series(work / shape, shape, args.checkpoints, args.dtype)
        theirs = sum(timed(lm_eval_command(python, f, task_yaml, args), "lm-eval run") for f in series)
        start = time.perf_counter()
        timed(ckptlens_command(work / shape, task_yaml, args), "ckptlens eval")
        ours = time.perf_counter() - start
        n = args.checkpoints
        for label, seconds in (("lm-eval (hf)", theirs), ("ckptlens", ours)):
            print(f"{shape:20s} {label:13s} {args.examples * n / seconds:8.1f} examples/s  "
                  f"{seconds / n:7.1f} s per checkpoint")  # fmt: skip
        print(f"{shape:20s} ratio {theirs / ours:.1f}x")


def build_series(folder: Path, shape: str, count: int, dtype: str) -> list[Path]:
    base = build_checkpoint(folder / "base")  # trains the tokenizer
    hidden, layers, heads, intermediate = SHAPES[shape]
    config = GPTNeoXConfig.from_pretrained(base)
    config.update({"hidden_size": hidden, "num_hidden_layers": layers, "num_attention_heads": heads,
                   "intermediate_size": intermediate, "vocab_size": PYTHIA_VOCAB})  # fmt: skip
    folders = []
    for seed in range(count):
        torch.manual_seed(seed)
        target = folder / "series" / f"step{seed + 1:06d}"
        GPTNeoXForCausalLM(config).to(getattr(torch, dtype)).save_pretrained(target)
        for path in base.iterdir():
            if path.name.startswith(("tokenizer", "special_tokens")):
                (target / path.name).write_bytes(path.read_bytes())
        folders.append(target)
    return folders


def lm_eval_command(python: str, folder: Path, task_yaml: Path, args) -> list[str]:
    return [python, "-m", "lm_eval", "run", "--model", "hf", "--model_args", f"pretrained={folder},dtype={args.dtype}",
            "--tasks", TASK, "--include_path", str(task_yaml.parent), "--batch_size", str(args.batch_size),
            "--device", "cuda"]  # fmt: skip


def ckptlens_command(folder: Path, task_yaml: Path, args) -> list[str]:
    return [sys.executable, "-m", "ckptlens", "eval", str(folder / "series"), "--tasks", str(task_yaml),
            "--store", str(folder / "store"), "--batch-size", str(args.batch_size), "--dtype", args.dtype,
            "--device", "cuda"]  # fmt: skip


if __name__ == "__main__":
    main()
