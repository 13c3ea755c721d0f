"""lm-eval ``samples_<task>_<timestamp>.jsonl`` (written with ``--log_samples``) as per-example columns.

One line per (document, filter). Log-likelihood tasks hold ``[loglik, is_greedy]``
per choice in ``filtered_resps`` (strings since lm-eval 0.4.3, numbers before);
generation tasks hold the generated text. ``target`` is the gold index, the gold
choice's text, or the reference text; lm-eval writes it as a string.

Multiple-choice records keep log-likelihoods, prediction and gold as indices;
the option texts stay in lm-eval's files (reading them would cost a third of
the import time). A 100-checkpoint x 10-task x 5,000-example import is about
8 GB of JSON, so files lm-eval laid out as usual go through the columnar path
(``columnar.py``); anything else is parsed line by line with the standard library.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa

from ckptlens.errors import CkptlensError
from ckptlens.importers.columnar import read_columnar
from ckptlens.importers.columns import (
    FIELD_TYPES,
    SampleColumns,
    check_new,
    metric_pairs,
    task_hash,
)
from ckptlens.importers.lines import parse_sample
from ckptlens.tasks.choice import predicted_option


def read_samples(path: Path) -> SampleColumns:
    """Parse one samples file; duplicate ``doc_id``s within a filter are a one-line error.

    Only the first filter in the file is kept (lm-eval writes one line per
    document and filter; "none" for log-likelihood tasks, the task's first
    filter, e.g. "strict-match", for generation).
    """
    lines = [line for line in path.read_bytes().splitlines() if line.strip()]
    if not lines:
        raise CkptlensError(f"{path} has no samples; rerun lm-eval with --log_samples or remove the file")
    return read_columnar(lines, path) or _read_line_by_line(lines, path)


def _read_line_by_line(lines: list[bytes], path: Path) -> SampleColumns:
    """The general path: each line parsed on its own (one at a time: keeping them all alive costs more)."""
    first = _parse(lines[0], f"{path}:1")
    result = SampleColumns(kind=_kind(first, path), filter=first.get("filter"))
    row_of = ROW_OF[result.kind]
    seen: set = set()
    hashes, rows = [], []
    for n, line in enumerate(lines, start=1):
        sample = _parse(line, f"{path}:{n}")
        hashes.append(f"{sample.get('doc_hash', '')}{sample.get('prompt_hash', '')}{sample.get('target_hash', '')}")
        if sample.get("filter") == result.filter:
            try:
                check_new(sample["doc_id"], seen, path, result.filter)
                rows.append(row_of(sample))
            except (KeyError, TypeError, ValueError, IndexError, AttributeError) as error:
                raise CkptlensError(
                    f"{path}:{n}: not an lm-eval {result.kind} sample ({type(error).__name__}: {error}); "
                    "rerun lm-eval with --log_samples or remove the file"
                ) from None
    values = zip(*rows, strict=True)
    result.columns = {name: pa.array(list(v), type_) for (name, type_), v in zip(FIELD_TYPES.items(), values)}
    result.task_hash = task_hash(hashes)
    return result


def _parse(line: bytes, where: str) -> dict:
    """One samples line as a dict; a line that is not a JSON object in UTF-8 is an error naming it."""
    try:
        sample = parse_sample(line)
    except UnicodeDecodeError:
        raise CkptlensError(f"{where}: not UTF-8 text; lm-eval writes UTF-8, so the file was changed") from None
    except ValueError as error:
        raise CkptlensError(f"{where}: not valid JSON ({error}); each line must be one lm-eval sample") from None
    if not isinstance(sample, dict):
        raise CkptlensError(f"{where}: each line must be a JSON object (an lm-eval sample)")
    return sample


def _kind(sample: dict, path: Path) -> str:
    responses = sample.get("filtered_resps")
    if not isinstance(responses, list) or not responses:
        raise CkptlensError(f"{path}: doc_id {sample.get('doc_id')} has no filtered_resps; not an lm-eval samples file")
    return "multiple_choice" if isinstance(responses[0], list) else "generation"


def _prompt_hash(sample: dict) -> str | None:
    """lm-eval's SHA-256 of the first request's context, as ckptlens's runner hashes its own prompts."""
    return sample.get("prompt_hash") or None


def _choice_row(sample: dict) -> tuple:
    """Multiple choice: log-likelihoods, prediction, gold; the option texts stay in lm-eval's files."""
    logliks = [float(response[0]) for response in sample["filtered_resps"]]
    pred = predicted_option(logliks)
    acc = sample.get("acc")
    gold = gold_index(str(sample.get("target")), continuations(sample.get("arguments")), pred, acc)
    correct = None if gold is None else pred == gold
    return (str(sample["doc_id"]), _prompt_hash(sample), logliks, pred, gold, None, None,
            correct, None if correct is None else float(correct), acc, metric_pairs(sample))


def _generation_row(sample: dict) -> tuple:
    responses = sample["filtered_resps"]
    output = responses[0] if isinstance(responses, list) else responses
    target = sample.get("target")
    score = sample.get("exact_match")
    return (
        str(sample["doc_id"]), _prompt_hash(sample), None, None, None,
        None if output is None else str(output), None if target is None else str(target),
        None if score is None else float(score) == 1.0, None if score is None else float(score), None,
        metric_pairs(sample),
    )


ROW_OF = {"multiple_choice": _choice_row, "generation": _generation_row}


def continuations(arguments) -> list[str]:
    """Each choice's text from a sample's ``arguments`` (0.4.3+: ``{"gen_args_0": {"arg_1": ...}}``; before: pairs).

    >>> continuations({"gen_args_0": {"arg_0": "Q?", "arg_1": " yes"}, "gen_args_1": {"arg_0": "Q?", "arg_1": " no"}})
    ['yes', 'no']
    """
    if isinstance(arguments, dict):  # lm-eval writes gen_args_0, gen_args_1, ... in order
        return [pair["arg_1"].strip() if isinstance(pair.get("arg_1"), str) else "" for pair in arguments.values()]
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
