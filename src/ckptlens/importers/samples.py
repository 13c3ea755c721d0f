"""lm-eval ``samples_<task>_<timestamp>.jsonl`` (written with ``--log_samples``) as per-example columns.

One line per (document, filter). Log-likelihood tasks hold ``[loglik, is_greedy]``
per choice in ``filtered_resps`` (strings since lm-eval 0.4.3, numbers before);
generation tasks hold the generated text. ``target`` is the gold index, the gold
choice's text, or the reference text; lm-eval writes it as a string.

Lines are parsed with orjson: a 100-checkpoint x 10-task x 5,000-example import
is about 8 GB of JSON, and the standard library alone would miss the one-minute
budget (bench/import_speed.py).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import orjson

from ckptlens.errors import CkptlensError


@dataclass
class SampleColumns:
    """The per-example columns of one samples file (one filter), ready for the store's records."""

    kind: str  # "multiple_choice" | "generation"
    filter: str | None
    example_id: list[str] = field(default_factory=list)
    logliks: list[list[float] | None] = field(default_factory=list)
    pred: list[int | None] = field(default_factory=list)
    gold: list[int | None] = field(default_factory=list)
    output: list[str | None] = field(default_factory=list)
    target: list[str | None] = field(default_factory=list)
    correct: list[bool | None] = field(default_factory=list)
    score: list[float | None] = field(default_factory=list)
    prompt_hash: list[str | None] = field(default_factory=list)
    disagreements: int = 0  # examples whose correctness differs from lm-eval's own per-sample acc
    task_hash: str = ""  # lm-eval's task hash recomputed from the file (results' ``task_hashes``)


def read_samples(path: Path) -> SampleColumns:
    """Parse one samples file; duplicate ``doc_id``s within a filter are a one-line error.

    Only the first filter in the file is kept (lm-eval writes one line per
    document and filter; "none" for log-likelihood tasks, the task's first
    filter, e.g. "strict-match", for generation).
    """
    with path.open("rb") as f:
        lines = [orjson.loads(line) for line in f if line.strip()]
    if not lines:
        raise CkptlensError(f"{path} has no samples; rerun lm-eval with --log_samples or remove the file")
    first = lines[0]
    columns = SampleColumns(kind=_kind(first, path), filter=first.get("filter"))
    add = _add_choice if columns.kind == "multiple_choice" else _add_generation
    seen: set = set()
    hashes = []
    for sample in lines:
        hashes.append(f"{sample.get('doc_hash', '')}{sample.get('prompt_hash', '')}{sample.get('target_hash', '')}")
        if sample.get("filter") != columns.filter:
            continue
        doc_id = sample["doc_id"]
        if doc_id in seen:
            raise CkptlensError(f"{path}: doc_id {doc_id} appears twice for filter {columns.filter!r}; "
                                "the file was appended to by two runs: keep one run's samples")
        seen.add(doc_id)
        add(columns, sample)
    columns.task_hash = hashlib.sha256("".join(hashes).encode("utf-8")).hexdigest()
    return columns


def _kind(sample: dict, path: Path) -> str:
    responses = sample.get("filtered_resps")
    if not isinstance(responses, list) or not responses:
        raise CkptlensError(f"{path}: doc_id {sample.get('doc_id')} has no filtered_resps; not an lm-eval samples file")
    return "multiple_choice" if isinstance(responses[0], list) else "generation"


def _add_common(columns: SampleColumns, sample: dict) -> None:
    columns.example_id.append(str(sample["doc_id"]))
    prompt = sample.get("prompt_hash")
    # lm-eval hashes the first request's context with SHA-256; ckptlens keeps 16 hex digits like its own runner.
    columns.prompt_hash.append(prompt[:16] if prompt else None)


def _add_choice(columns: SampleColumns, sample: dict) -> None:
    _add_common(columns, sample)
    logliks = [float(response[0]) for response in sample["filtered_resps"]]
    pred = max(range(len(logliks)), key=lambda i: (logliks[i], -i))
    choices = continuations(sample.get("arguments"))
    gold = gold_index(str(sample.get("target")), choices, pred, sample.get("acc"))
    correct = None if gold is None else pred == gold
    columns.logliks.append(logliks)
    columns.pred.append(pred)
    columns.gold.append(gold)
    columns.output.append(choices[pred] if pred < len(choices) else None)
    columns.target.append(choices[gold] if gold is not None and gold < len(choices) else None)
    columns.correct.append(correct)
    columns.score.append(None if correct is None else float(correct))
    acc = sample.get("acc")
    columns.disagreements += acc is not None and correct is not None and bool(acc) != correct


def _add_generation(columns: SampleColumns, sample: dict) -> None:
    _add_common(columns, sample)
    responses = sample["filtered_resps"]
    output = responses[0] if isinstance(responses, list) else responses
    score = sample.get("exact_match")
    columns.logliks.append(None)
    columns.pred.append(None)
    columns.gold.append(None)
    columns.output.append(None if output is None else str(output))
    columns.target.append(None if sample.get("target") is None else str(sample["target"]))
    columns.score.append(None if score is None else float(score))
    columns.correct.append(None if score is None else float(score) == 1.0)


def continuations(arguments) -> list[str]:
    """Each choice's text from a sample's ``arguments`` (0.4.3+: ``{"gen_args_0": {"arg_1": ...}}``; before: pairs).

    >>> continuations({"gen_args_0": {"arg_0": "Q?", "arg_1": " yes"}, "gen_args_1": {"arg_0": "Q?", "arg_1": " no"}})
    ['yes', 'no']
    """
    if isinstance(arguments, dict):
        pairs = [arguments[key] for key in sorted(arguments, key=lambda k: int(k.rsplit("_", 1)[-1]))]
        return [str(pair.get("arg_1", "")).strip() for pair in pairs]
    if isinstance(arguments, list):
        return [str(pair[1]).strip() if len(pair) > 1 else "" for pair in arguments]
    return []


def gold_index(target: str, choices: list[str], pred: int, acc: float | None) -> int | None:
    """The gold option: an index (lm-eval reads digit targets as indices), else the choice whose text it is.

    When the text names no single choice (Winogrande's shared continuation), lm-eval's
    per-sample ``acc`` still pins it: right means gold is the prediction, and with two
    options wrong means the other one.

    >>> gold_index("2", ["a", "b", "c"], 0, None), gold_index("b", ["a", "b"], 0, None)
    (2, 1)
    >>> gold_index("the same", ["the same", "the same"], 1, 0.0)
    0
    """
    target = target.strip()
    if target.isdigit():
        return int(target)
    if target.startswith("[") and target.endswith("]"):
        indices = [int(part) for part in target[1:-1].split(",") if part.strip().isdigit()]
        return pred if pred in indices else (indices[0] if indices else None)
    matches = [i for i, choice in enumerate(choices) if choice == target]
    if len(matches) == 1:
        return matches[0]
    if acc is None:
        return None
    if acc:
        return pred
    return 1 - pred if len(choices) == 2 else None
