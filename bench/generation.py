"""Generation, whole commands: lm-eval vs ckptlens on a gsm8k-shaped task, and ckptlens now vs commit 00cce23.

    python bench/generation.py lm-eval --model small             # 3.4M GPT-NeoX, 40 docs, 5-shot, 256 new tokens
    python bench/generation.py lm-eval --model 86m               # Pythia-160m width and depth (86M parameters)
    python bench/generation.py lm-eval --model 86m --shots fixed # the same 5 demonstrations before every document
    python bench/generation.py llm-jp-eval --model small         # 4-shot llm-jp-eval dataset, 100 samples

``lm-eval``: lm-eval's own ``gsm8k.yaml`` (5-shot, ``until: [Question:, </s>,
<|im_end|>]``, 256 new tokens, its two regex filters) is pointed at local
JSON-lines data of its schema by an include YAML. Its demonstrations are drawn
at random per document (``--shots random``, gsm8k's own setting: the prompts
share no prefix); ``--shots fixed`` adds ``sampler: first_n``, so every prompt
starts with the same five (the shape that prefix sharing favours). Documents
are 15-word questions and 25-word answers: about 1,000 context tokens with
this vocabulary, under the 2,048 positions, so nothing is truncated. A
2-checkpoint series (random weights, seeds 0 and 1, a byte-level BPE of 512
trained here, ``bench/speed.py``'s shapes) is evaluated by one ``lm_eval``
command per checkpoint and one ``ckptlens eval --tasks lm-eval:gsm8k``, each
whole command timed; ``--pairs N`` repeats the two back to back and reports
the median ratio; the generated texts are compared. Then, in process:
ckptlens's generated tokens/s on the first checkpoint against the model's
forward throughput (tokens/s of one full forward pass of the same batch of
contexts, as scoring runs it); with ``--draft-cost``, generation on that
checkpoint with drafted tokens, without, and with every draft wrong.

``llm-jp-eval``: a 4-shot llm-jp-eval dataset of 100 samples (preprocessed
layout, ``output_length`` 32) evaluated by ``ckptlens eval --tasks
llm-jp-eval:DIR`` with this tree's code and with commit 00cce23's (``git
archive``), whole commands, ``--pairs`` times back to back, outputs compared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from lmeval_parity import WORDS  # noqa: E402
from speed import build_series, n_params  # noqa: E402

OLD = "00cce23"  # ckptlens before the generation engine
ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["lm-eval", "llm-jp-eval"])
    parser.add_argument("--model", choices=["small", "86m"], default="small")
    parser.add_argument("--docs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--shots", choices=["random", "fixed"], default="random")
    parser.add_argument("--pairs", type=int, default=1, help="back-to-back repeats of both whole commands")
    parser.add_argument("--draft-cost", action="store_true",
                        help="also time generation in process with drafts, without, and with every draft wrong")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ckptlens-generation-"))
    series = build_series(work / "series", args.model, 2)
    print(f"2 checkpoints of {args.model} ({n_params(series[0]) / 1e6:.1f}M parameters); work folder {work}; "
          f"loadavg {loadavg()}")
    if args.mode == "lm-eval":
        lm_eval_bench(work, series, args)
    else:
        llm_jp_eval_bench(work, series, args)
    print(f"loadavg after: {loadavg()}")


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def lm_eval_bench(work: Path, series: list[Path], args) -> None:
    include = write_gsm8k(work / "tasks", args.docs, args.shots)
    ratios = []
    for pair in range(args.pairs):
        lm_eval = sum(timed([sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
                             f"pretrained={ckpt},dtype=float32", "--tasks", "gsm8k", "--include_path", str(include),
                             "--batch_size", str(args.batch_size), "--device", "cpu", "--output_path",
                             str(work / "lm_eval" / ckpt.name), "--log_samples"], f"lm_eval {ckpt.name}")
                      for ckpt in series)
        store = work / f"store{pair}"
        ours = timed([sys.executable, "-m", "ckptlens", "eval", str(work / "series"), "--tasks", "lm-eval:gsm8k",
                      "--include-path", str(include), "--batch-size", str(args.batch_size), "--device", "cpu",
                      "--store", str(store)], "ckptlens eval")
        same, total = compare_gsm8k(work, series, store)
        ratios.append(lm_eval / ours)
        print(f"pair {pair + 1}: lm_eval x2 {lm_eval:.1f} s, ckptlens eval {ours:.1f} s, {lm_eval / ours:.2f}x; "
              f"generated texts equal to lm-eval's: {same} of {total}; loadavg {loadavg()}")
    print(f"median ratio over {len(ratios)} pairs ({args.shots} shots): {statistics.median(ratios):.2f}x")
    throughput(series[0], include, args.batch_size)
    if args.draft_cost:
        draft_cost(series[0], include, args.batch_size)


def write_gsm8k(folder: Path, n: int, shots: str = "random") -> Path:
    """gsm8k's schema (question; answer with its reasoning and ``#### N``) and an include YAML; ``shots="fixed"``
    makes every document's demonstrations the first five (``sampler: first_n``)."""
    import lm_eval.tasks

    folder.mkdir(parents=True)
    rng = random.Random(0)

    def doc(i: int) -> dict:
        reasoning = " ".join(rng.choices(WORDS, k=25))
        return {"question": " ".join(rng.choices(WORDS, k=15)) + " ?", "answer": f"{reasoning}\n#### {i % 97}"}

    files = {}
    for split, count in (("train", 10), ("test", n)):
        files[split] = folder / f"gsm8k_{split}.jsonl"
        files[split].write_text("".join(json.dumps(doc(i)) + "\n" for i in range(count)))
    original = Path(lm_eval.tasks.__file__).parent / "gsm8k" / "gsm8k.yaml"
    (folder / "gsm8k.yaml").write_text(
        f"include: {original}\ntask: gsm8k\ndataset_path: json\ndataset_name: null\ndataset_kwargs:\n  data_files:\n"
        f"    train: {files['train']}\n    test: {files['test']}\n"
        + ("fewshot_config:\n  sampler: first_n\n" if shots == "fixed" else ""))
    return folder


def compare_gsm8k(work: Path, series: list[Path], store: Path) -> tuple[int, int]:
    from ckptlens.store import Store

    records = {(r["checkpoint"], int(r["example_id"])): r["output"] for r in Store(store).read().to_pylist()}
    same = total = 0
    for ckpt in series:
        path = next((work / "lm_eval" / ckpt.name).rglob("samples_gsm8k_*.jsonl"))
        for line in path.read_text().splitlines():
            sample = json.loads(line)
            total += 1
            same += records[(ckpt.name, sample["doc_id"])] == sample["resps"][0][0]
    return same, total


def throughput(checkpoint: Path, include: Path, batch_size: int) -> None:
    """ckptlens's generated tokens/s vs the forward tokens/s of one pass over the same batch of contexts."""
    from ckptlens.checkpoints.loading import load_model
    from ckptlens.evaluation.lm_eval_requests import evaluate_lm_eval_task
    from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks

    model, tokenizer = load_model(checkpoint, device="cpu")
    (task,) = build_lm_eval_tasks(["gsm8k"], LmEvalOptions((str(include),)))
    start = time.perf_counter()
    rows = evaluate_lm_eval_task(model, tokenizer, task, batch_size)
    seconds = time.perf_counter() - start
    generated = sum(len(tokenizer(r["output"], add_special_tokens=False)["input_ids"]) for r in rows)
    contexts = [tokenizer(e.context, add_special_tokens=False)["input_ids"] for e in task.examples[:batch_size]]
    width = min(len(c) for c in contexts)
    batch = torch.tensor([c[:width] for c in contexts])
    with torch.inference_mode():
        model(input_ids=batch[:1, :8])
        start = time.perf_counter()
        model(input_ids=batch)
        forward = time.perf_counter() - start
    print(f"generation: {generated} tokens in {seconds:.1f} s = {generated / seconds:.0f} generated tokens/s "
          f"({len(rows)} documents, prompts included); forward pass of {batch.shape[0]} x {width} tokens: "
          f"{batch.numel() / forward:.0f} tokens/s; generated / forward = "
          f"{generated / seconds * forward / batch.numel():.3f}")


def draft_cost(checkpoint: Path, include: Path, batch_size: int) -> None:
    """Generation on the first checkpoint, in process, three ways: drafted tokens as ckptlens drafts them; no drafts
    (one token a row and pass, the engine before drafting); every draft wrong (each drafted token shifted by one:
    the same drafts' count and lengths, none accepted, so the passes carry dead weight): what drafting gains on
    this shape and what it costs where drafts never hold."""
    from ckptlens.checkpoints.loading import load_model
    from ckptlens.evaluation import prompt_lookup
    from ckptlens.evaluation.lm_eval_requests import evaluate_lm_eval_task
    from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks

    model, tokenizer = load_model(checkpoint, device="cpu")
    (task,) = build_lm_eval_tasks(["gsm8k"], LmEvalOptions((str(include),)))
    own, record, vocab = prompt_lookup.PromptLookup.draft, prompt_lookup.PromptLookup.record, len(tokenizer)
    ways = {"no drafts": lambda *args: [], "drafts": own,
            "every draft wrong": lambda *args: [(t + 1) % vocab for t in own(*args)]}
    counts = {"passes": 0, "drafted": 0, "accepted": 0}

    def counted(self, row: int, drafted: int, accepted: int) -> None:
        counts["drafted"] += drafted
        counts["accepted"] += accepted
        record(self, row, drafted, accepted)

    hook = model.register_forward_pre_hook(lambda *_: counts.__setitem__("passes", counts["passes"] + 1))
    outputs = {}
    try:
        prompt_lookup.PromptLookup.record = counted
        for way, draft in ways.items():
            prompt_lookup.PromptLookup.draft = draft
            counts.update(passes=0, drafted=0, accepted=0)
            start = time.perf_counter()
            outputs[way] = [r["output"] for r in evaluate_lm_eval_task(model, tokenizer, task, batch_size)]
            same = sum(map(str.__eq__, outputs[way], outputs["no drafts"]))
            print(f"{way:17s}: {time.perf_counter() - start:6.1f} s, {counts['passes']} passes, "
                  f"{counts['accepted']} of {counts['drafted']} drafted tokens accepted; "
                  f"outputs equal to no drafts': {same} of {len(outputs[way])}")
    finally:
        prompt_lookup.PromptLookup.draft, prompt_lookup.PromptLookup.record = own, record
        hook.remove()


def llm_jp_eval_bench(work: Path, series: list[Path], args) -> None:
    data = write_llm_jp_eval(work / "llm_jp_eval", 100)
    old = work / "old"
    old.mkdir()
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", OLD, "src"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
    command = ["-m", "ckptlens", "eval", str(work / "series"), "--tasks", f"llm-jp-eval:{data}", "--batch-size",
               str(args.batch_size), "--device", "cpu"]
    ratios = []
    for pair in range(args.pairs):
        stores = work / f"store_old{pair}", work / f"store_new{pair}"
        before = timed([sys.executable, *command, "--store", str(stores[0])], f"ckptlens {OLD}",
                       {"PYTHONPATH": str(old / "src")})
        now = timed([sys.executable, *command, "--store", str(stores[1])], "ckptlens now",
                    {"PYTHONPATH": str(ROOT / "src")})
        from ckptlens.store import Store

        outputs = [{(r["checkpoint"], r["example_id"]): r["output"] for r in Store(s).read().to_pylist()}
                   for s in stores]
        same = sum(outputs[0][k] == outputs[1].get(k) for k in outputs[0])
        ratios.append(before / now)
        print(f"pair {pair + 1}: {OLD} {before:.1f} s, now {now:.1f} s, {before / now:.2f}x; outputs equal to "
              f"{OLD}'s: {same} of {len(outputs[0])}; loadavg {loadavg()}")
    print(f"median ratio over {len(ratios)} pairs (100 samples, 4-shot, 2 checkpoints): "
          f"{statistics.median(ratios):.2f}x")


def write_llm_jp_eval(root: Path, n: int) -> Path:
    """A reading-comprehension dataset in llm-jp-eval's preprocessed layout (``evaluation/{train,dev}/NAME.json``)."""
    rng = random.Random(1)
    folder = root / "evaluation"
    for split, count in (("train", 4), ("dev", n)):  # dev: ckptlens's default --split, as llm-jp-eval's
        samples = [{"input": f"文章:{' '.join(rng.choices(WORDS, k=30))}\n質問:{' '.join(rng.choices(WORDS, k=8))}",
                    "output": " ".join(rng.choices(WORDS, k=3))} for _ in range(count)]
        data = {"instruction": "質問に対する回答を文章から一言で抽出してください。", "output_length": 32,
                "metrics": ["char_f1"], "few_shots": [], "samples": samples}
        path = folder / split / "jsquad.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def timed(command: list[str], label: str, extra_env: dict | None = None) -> float:
    env = {**os.environ, "HF_DATASETS_OFFLINE": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           **(extra_env or {})}
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"{label} failed:\n{done.stderr[-3000:]}")
    print(f"  {label:22s} {seconds:7.1f} s")
    return seconds


if __name__ == "__main__":
    main()
