"""Small lm-eval outputs in the real formats, written by the tests (no files from ../shared).

``write_new_format`` writes what lm-eval 0.4.x writes for one checkpoint with
``--output_path OUT --log_samples``: ``OUT/<model_sanitized>/results_<stamp>.json``
and ``samples_<task>_<stamp>.jsonl`` (arguments as ``gen_args_N``/``arg_N``,
responses sanitised to strings, ``target`` as a string, SHA-256 hashes, per-sample
metrics). ``write_old_format`` writes a results file like the Pythia suite's.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass
class ChoiceSample:
    doc_id: int
    question: str
    choices: list[str]
    gold: int
    logliks: list[float]
    filter: str = "none"

    def line(self) -> dict:
        doc = {"question": self.question, "choices": self.choices, "label": self.gold}
        context = f"Question: {self.question}\nAnswer:"
        pred = max(range(len(self.logliks)), key=lambda i: (self.logliks[i], -i))
        return {
            "doc_id": self.doc_id, "doc": doc, "target": str(self.gold),
            "arguments": {f"gen_args_{i}": {"arg_0": context, "arg_1": f" {c}"} for i, c in enumerate(self.choices)},
            "resps": [[[str(ll), "False"]] for ll in self.logliks],
            "filtered_resps": [[str(ll), "False"] for ll in self.logliks],
            "filter": self.filter, "metrics": ["acc", "acc_norm"],
            "doc_hash": sha(json.dumps(doc, indent=2, ensure_ascii=False)), "prompt_hash": sha(context),
            "target_hash": sha(str(self.gold)), "acc": float(pred == self.gold), "acc_norm": float(pred == self.gold),
        }


@dataclass
class GenerationSample:
    doc_id: int
    question: str
    answer: str
    output: str
    filter: str = "strict-match"

    def line(self) -> dict:
        doc = {"question": self.question, "answer": self.answer}
        context = f"Q: {self.question}\nA:"
        return {
            "doc_id": self.doc_id, "doc": doc, "target": self.answer,
            "arguments": {"gen_args_0": {"arg_0": context, "arg_1": {"until": ["\n"], "do_sample": False}}},
            "resps": [[self.output]], "filtered_resps": [self.output], "filter": self.filter,
            "metrics": ["exact_match"], "doc_hash": sha(json.dumps(doc, indent=2)), "prompt_hash": sha(context),
            "target_hash": sha(self.answer), "exact_match": float(self.output.strip() == self.answer),
        }


@dataclass
class Checkpoint:
    """One lm-eval invocation: a revision and the samples of each task."""

    revision: str | None
    samples: dict[str, list] = field(default_factory=dict)
    model: str = "EleutherAI/pythia-160m"
    stamp: str = "2024-05-01T12-00-00.000000"


def write_new_format(out: Path, checkpoint: Checkpoint, folder: str | None = None) -> Path:
    """lm-eval 0.4.x's results and samples files for one checkpoint; returns the folder written."""
    folder_path = out / (folder or checkpoint.model.replace("/", "__"))
    folder_path.mkdir(parents=True, exist_ok=True)
    results, hashes = {}, {}
    for task, samples in checkpoint.samples.items():
        lines = [s.line() for s in samples]
        (folder_path / f"samples_{task}_{checkpoint.stamp}.jsonl").write_text(
            "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines))
        hashes[task] = sha("".join(f"{ln['doc_hash']}{ln['prompt_hash']}{ln['target_hash']}" for ln in lines))
        metric = "acc" if "acc" in lines[0] else "exact_match"
        mean = sum(line[metric] for line in lines) / len(lines)
        filter_name = lines[0]["filter"]
        results[task] = {"alias": task, f"{metric},{filter_name}": mean, f"{metric}_stderr,{filter_name}": 0.05}
    model_args = f"pretrained={checkpoint.model}" + (f",revision={checkpoint.revision}" if checkpoint.revision else "")
    data = {
        "results": results, "group_subtasks": {t: [] for t in results},
        "configs": {t: {"task": t, "num_fewshot": 0} for t in results}, "versions": {t: 1.0 for t in results},
        "n-shot": {t: 0 for t in results}, "higher_is_better": {t: {"acc": True} for t in results},
        "n-samples": {t: {"original": len(s), "effective": len(s)} for t, s in checkpoint.samples.items()},
        "config": {"model": "hf", "model_args": model_args, "model_num_parameters": 162322944,
                   "model_dtype": "torch.float16", "model_revision": checkpoint.revision or "main",
                   "batch_size": "16", "limit": None},
        "task_hashes": hashes, "model_source": "hf", "model_name": checkpoint.model,
        "model_name_sanitized": checkpoint.model.replace("/", "__"), "lm_eval_version": "0.4.9",
    }
    (folder_path / f"results_{checkpoint.stamp}.json").write_text(json.dumps(data, indent=2))
    return folder_path


def write_old_format(path: Path, revision: str, results: dict, num_fewshot: int = 0,
                     model: str = "EleutherAI/pythia-v1.1-410m") -> Path:
    """A results file in the format the Pythia suite published."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "results": results, "versions": {t: 0 for t in results},
        "config": {"model": "hf-causal", "model_args": f"use_accelerate=True,pretrained={model},revision={revision}",
                   "num_fewshot": num_fewshot, "batch_size": 32, "device": None, "no_cache": True, "limit": None,
                   "bootstrap_iters": 100000, "description_dict": {}},
    }
    path.write_text(json.dumps(data, indent=1))
    return path
