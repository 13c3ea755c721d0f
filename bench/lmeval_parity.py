"""ckptlens vs lm-evaluation-harness 0.4.13: same checkpoint, same task YAML, same batch size.

    python bench/lmeval_parity.py --install        # first time: builds bench/.envs/lmeval-0.4.13
    python bench/lmeval_parity.py [--examples 40] [--batch-size 32] [--threads 2]   # ~10 min on 2 CPU cores
    python bench/lmeval_parity.py --averaged --examples 10   # the same on a folder written by `ckptlens average`

Builds a Pythia-70m-shaped GPT-NeoX checkpoint (random weights, fixed seed) with a
byte-level BPE tokenizer trained here, writes two 4-shot multiple-choice tasks as
lm-eval YAMLs over local JSON-lines files (``sampler: first_n``): one whose
options are several tokens long, one whose options are single tokens. lm-eval
(its ``HFLM``, in its own venv, via subprocess) and ckptlens (reading the very
same YAML) score them; printed: the largest per-choice log-likelihood
difference, the number of differing predictions, examples/s of both (model
time: lm-eval's ``loglikelihood`` call vs ckptlens's ``score_multiple_choice``)
and their ratio, and ckptlens's achieved FLOP/s next to a plain torch matmul.

With ``--averaged`` the checkpoint both tools score is the mean of two such
checkpoints (seeds 0 and 1) written by ckptlens's ``average_checkpoints``: lm-eval
loading and scoring it shows the averaged folder is a normal HF folder.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

import torch
import yaml
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, PreTrainedTokenizerFast

from ckptlens.averaging import average_checkpoints
from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation.scoring import encode_pair, score_multiple_choice
from ckptlens.tasks.choice import predicted_option as argmax_first
from ckptlens.tasks.lm_eval_yaml import load_lm_eval_task

LM_EVAL = "lm-eval[hf]==0.4.13"  # the hf extra brings accelerate and peft for HFLM
ENV = Path(__file__).parent / ".envs" / "lmeval-0.4.13"
WORDS = (
    "red blue green yellow black white small large old young quick slow bright dark warm cold river mountain "
    "forest city village garden house bridge tower market harbour castle meadow desert island valley road"
).split()
SHORT = ["yes", "no", "maybe", "never"]  # single-token options (checked below)
LM_EVAL_RUNNER = r"""
import json, sys, time, torch, lm_eval
from lm_eval.models.huggingface import HFLM
from lm_eval.tasks import TaskManager
folder, tasks_dir, name, batch_size, threads = sys.argv[1:6]
torch.set_num_threads(int(threads))
model = HFLM(pretrained=folder, batch_size=int(batch_size), device="cpu", dtype="float32")
timed = {"seconds": 0.0}
original = model.loglikelihood
def loglikelihood(requests, **kw):
    start = time.perf_counter()
    out = original(requests, **kw)
    timed["seconds"] += time.perf_counter() - start
    return out
model.loglikelihood = loglikelihood
start = time.perf_counter()
result = lm_eval.simple_evaluate(model=model, tasks=[name], task_manager=TaskManager(include_path=tasks_dir),
                                 log_samples=True, batch_size=int(batch_size))
total = time.perf_counter() - start
samples = [{"doc_id": s["doc_id"], "logliks": [float(r[0]) for r in s["filtered_resps"]]}
           for s in result["samples"][name]]
print(json.dumps({"model_seconds": timed["seconds"], "total_seconds": total, "samples": samples}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--install", action="store_true", help=f"create {ENV} and pip install {LM_EVAL} there")
    parser.add_argument("--examples", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--averaged", action="store_true", help="score the average of two checkpoints (ckptlens)")
    args = parser.parse_args()
    if args.install:
        install_lm_eval()
    if not (ENV / "bin" / "python").is_file():
        sys.exit(f"no lm-eval environment at {ENV}; run again with --install")
    torch.set_num_threads(args.threads)
    work = Path(tempfile.mkdtemp(prefix="ckptlens-parity-"))
    print(f"work folder: {work}")
    folder = build_checkpoint(work / "pythia-shaped")
    if args.averaged:
        other = build_checkpoint(work / "pythia-shaped-seed1", seed=1)
        folder = average_checkpoints([folder, other], work / "averaged")
        print(f"scoring the ckptlens average of two checkpoints: {folder}")
    _, tokenizer = load_model(folder, device="cpu")
    for name, options in (("parity_multi", "multi"), ("parity_single", "single")):
        task_yaml = write_task(work / "tasks", name, options, args.examples)
        report(name, compare(folder, task_yaml, args), tokenizer, task_yaml)
    print_flops(folder, work / "tasks" / "parity_multi.yaml", args.batch_size)


def install_lm_eval() -> None:
    """A venv that sees this interpreter's packages (same torch/transformers), with lm-eval installed on top."""
    subprocess.run([sys.executable, "-m", "venv", str(ENV)], check=True)
    site = next((ENV / "lib").glob("python*/site-packages"))
    (site / "ckptlens_base.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(ENV / "bin" / "python"), "-m", "pip", "install", "-q", LM_EVAL], check=True)


def build_checkpoint(folder: Path, seed: int = 0) -> Path:
    """Pythia-70m's shape (6 layers, width 512, partial rotary, parallel residual) with a local BPE vocabulary."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=["<|endoftext|>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    rng = random.Random(0)
    corpus = [" ".join(rng.choices(WORDS[:10] + SHORT, k=12)) + " Question: Answer:" for _ in range(400)]
    tok.train_from_iterator(corpus, trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", bos_token="<|endoftext|>")
    torch.manual_seed(seed)
    config = GPTNeoXConfig(
        vocab_size=len(tokenizer), hidden_size=512, num_hidden_layers=6, num_attention_heads=8,
        intermediate_size=2048, max_position_embeddings=2048, rotary_pct=0.25, use_parallel_residual=True,
        tie_word_embeddings=False, initializer_range=0.05, bos_token_id=0, eos_token_id=0,
    )  # fmt: skip
    GPTNeoXForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def write_task(folder: Path, name: str, options: str, n: int) -> Path:
    """4-shot multiple choice as an lm-eval YAML over local train/test JSON-lines files."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = random.Random(name)
    for split, count in (("train", 4), ("test", n)):
        with (folder / f"{name}_{split}.jsonl").open("w") as f:
            for _ in range(count):
                f.write(json.dumps(_doc(rng, options)) + "\n")
    spec = {
        "task": name,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {s: str(folder / f"{name}_{s}.jsonl") for s in ("train", "test")}},
        "test_split": "test",
        "fewshot_split": "train",
        "output_type": "multiple_choice",
        "doc_to_text": "Question: {{question}}\nAnswer:",
        "doc_to_choice": "{{choices}}",
        "doc_to_target": "{{answer}}",
        "target_delimiter": " ",
        "fewshot_delimiter": "\n\n",
        "num_fewshot": 4,
        "fewshot_config": {"sampler": "first_n"},
        "metric_list": [{"metric": "acc"}],
    }
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def _doc(rng: random.Random, options: str) -> dict:
    question = " ".join(rng.choices(WORDS, k=rng.randint(6, 14))) + "?"
    if options == "single":
        choices = list(SHORT)
    else:
        choices = [" ".join(rng.choices(WORDS, k=rng.randint(2, 5))) for _ in range(4)]
    return {"question": question, "choices": choices, "answer": rng.randrange(len(choices))}


def compare(folder: Path, task_yaml: Path, args) -> dict:
    """Both tools on one task; lm-eval first, each in a quiet process state."""
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_DATASETS_CACHE": str(task_yaml.parent / "hf-cache")}  # fmt: skip
    command = [str(ENV / "bin" / "python"), "-c", LM_EVAL_RUNNER, str(folder), str(task_yaml.parent),
               task_yaml.stem, str(args.batch_size), str(args.threads)]  # fmt: skip
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"lm-eval failed:\n{done.stderr[-3000:]}")
    lm_eval = json.loads(done.stdout.strip().splitlines()[-1])
    model, tokenizer = load_model(folder, device="cpu")
    task = load_lm_eval_task(task_yaml)
    score_multiple_choice(model, tokenizer, task.examples[:8], args.batch_size)  # warm-up
    start = time.perf_counter()
    scores = score_multiple_choice(model, tokenizer, task.examples, args.batch_size)
    seconds = time.perf_counter() - start
    return {"lm_eval": lm_eval, "ckptlens": [s.logliks for s in scores], "seconds": seconds, "task": task}


def report(name: str, result: dict, tokenizer, task_yaml: Path) -> None:
    theirs = {s["doc_id"]: s["logliks"] for s in result["lm_eval"]["samples"]}
    ours = dict(enumerate(result["ckptlens"]))
    diff = max(abs(a - b) for i in ours for a, b in zip(ours[i], theirs[i], strict=True))
    flips = sum(argmax_first(ours[i]) != argmax_first(theirs[i]) for i in ours)
    n = len(ours)
    tokens = [len(encode_pair(tokenizer, e.context, c)[1]) for e in result["task"].examples for c in e.choices]
    lm_rate, our_rate = n / result["lm_eval"]["model_seconds"], n / result["seconds"]
    print(f"\n== {name} ({task_yaml.name}): {n} examples, 4-shot, option tokens {min(tokens)}..{max(tokens)}")
    print(f"largest |loglik difference|: {diff:.2e}   differing predictions: {flips} / {n}")
    print(f"lm-eval : {lm_rate:7.1f} examples/s (loglikelihood call; {n / result['lm_eval']['total_seconds']:.1f} "
          "end to end)")  # fmt: skip
    print(f"ckptlens: {our_rate:7.1f} examples/s   ratio {our_rate / lm_rate:.1f}x")


def print_flops(folder: Path, task_yaml: Path, batch_size: int) -> None:
    """ckptlens's model FLOP/s (matmuls of the forward passes it ran) vs one plain float32 matmul."""
    model, tokenizer = load_model(folder, device="cpu")
    task = load_lm_eval_task(task_yaml)
    flops = [0.0]
    hook = model.register_forward_pre_hook(lambda _, a, kw: flops.__setitem__(0, flops[0] + _flops(model, kw)),
                                           with_kwargs=True)  # fmt: skip
    start = time.perf_counter()
    score_multiple_choice(model, tokenizer, task.examples, batch_size)
    seconds = time.perf_counter() - start
    hook.remove()
    a, b = torch.randn(2048, 512), torch.randn(512, 2048)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(20):
        torch.mm(a, b)
    matmul = 20 * 2 * 2048 * 512 * 2048 / (time.perf_counter() - start)
    achieved = flops[0] / seconds
    print(f"\nckptlens model FLOP/s: {achieved / 1e9:.1f} GFLOP/s; plain torch matmul 2048x512x2048 float32: "
          f"{matmul / 1e9:.1f} GFLOP/s ({achieved / matmul:.0%} of it)")  # fmt: skip


def _flops(model, kwargs) -> float:
    """2 x weights x positions for the layers, plus attention scores/values and the kept logits."""
    config = model.config
    batch, length = kwargs["input_ids"].shape
    cache = kwargs.get("past_key_values")
    past = cache.get_seq_length() if cache is not None else 0
    width, layers = config.hidden_size, config.num_hidden_layers
    per_token = layers * (4 * width * width + 2 * width * config.intermediate_size)
    attention = layers * 2 * width * (past + (length + 1) / 2)
    kept = kwargs.get("logits_to_keep") or length
    return 2 * batch * (length * (per_token + attention) + kept * width * config.vocab_size)


if __name__ == "__main__":
    main()
