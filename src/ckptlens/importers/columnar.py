"""The fast path for a samples file: lean lines parsed by Arrow's JSON reader, columns computed in bulk.

Importing 5 million samples must take well under a minute on two cores; a few
microseconds of Python per line is all there is room for. Each line is cut down
to the fields a record needs (``lines.lean_bytes``), Arrow parses them all at
once, and predictions, gold indices and correctness are vector operations. A file
this cannot read (an older lm-eval's mixed-type responses, text targets, unusual
key order) returns None and is read line by line instead (``samples.py``).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from ckptlens.importers.columns import FIELD_TYPES, SampleColumns, check_new, task_hash
from ckptlens.importers.lines import lean_bytes
from ckptlens.tasks.choice import predicted_option

BLOCK_BYTES = 1 << 26  # one block per file: the lean lines of 5,000 samples are ~2 MB


def read_columnar(lines: list[bytes], path: Path) -> SampleColumns | None:
    """The samples on ``lines`` as columns, or None when this path cannot read them."""
    table = read_lean(lines)
    if table is None or not {"doc_id", "filtered_resps"} <= set(table.column_names):
        return None
    hashes = [_column(table, name, pa.string()) for name in ("doc_hash", "prompt_hash", "target_hash")]
    pieces = pc.binary_join_element_wise(*[pc.fill_null(h, "") for h in hashes], "").to_pylist()
    filter_name = table["filter"][0].as_py() if "filter" in table.column_names else None
    if filter_name is not None:
        table = table.filter(pc.equal(table["filter"], filter_name))
    _check_unique(table["doc_id"].to_pylist(), path, filter_name)
    multiple_choice = pa.types.is_list(table["filtered_resps"].type.value_type)
    kind_columns = choice_columns(table) if multiple_choice else generation_columns(table)
    metrics = metrics_column(table)
    if kind_columns is None or metrics is None:
        return None
    n = table.num_rows
    columns = {
        "example_id": pc.cast(table["doc_id"].combine_chunks(), pa.string()),
        "prompt_hash": _column(table, "prompt_hash", pa.string()),
        "lm_eval_acc": _column(table, "acc", pa.float64()),
        "metrics": metrics,
        **kind_columns,
    }
    columns = {name: columns.get(name, pa.nulls(n, type_)).cast(type_) for name, type_ in FIELD_TYPES.items()}
    kind = "multiple_choice" if multiple_choice else "generation"
    return SampleColumns(kind, filter_name, columns, task_hash(pieces))


def read_lean(lines: list[bytes]) -> pa.Table | None:
    """The lean fields of every line as one table, or None when a line cannot be cut or parsed this way."""
    lean = [lean_bytes(line) for line in lines]
    if None in lean:
        return None
    try:
        options = pj.ReadOptions(use_threads=False, block_size=BLOCK_BYTES)
        return pj.read_json(io.BytesIO(b"\n".join(lean)), read_options=options)
    except pa.ArrowInvalid:
        return None


def choice_columns(table: pa.Table) -> dict[str, pa.Array] | None:
    """Multiple-choice columns (logliks, pred, gold, correct, score) when responses are strings or numbers
    and every target is an index; None otherwise."""
    responses = table["filtered_resps"].combine_chunks()
    if not pa.types.is_list(responses.type.value_type) or responses.null_count:
        return None
    first = pc.list_element(pc.list_flatten(responses), 0)
    target = table["target"].combine_chunks()
    if pa.types.is_string(target.type):
        if target.null_count or not pc.all(pc.utf8_is_digit(pc.utf8_trim_whitespace(target))).as_py():
            return None
        target = pc.cast(pc.utf8_trim_whitespace(target), pa.int64())
    elif not pa.types.is_integer(target.type):
        return None
    try:
        values = pc.cast(first, pa.float64())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    lengths = pc.list_value_length(responses).to_numpy()
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
    logliks = pa.ListArray.from_arrays(pa.array(offsets), values)
    pred = pa.array(predicted_option(padded(offsets, values.to_numpy(zero_copy_only=False))))
    gold = pc.cast(target, pa.int64())
    correct = pc.equal(pred, gold)
    return {"logliks": logliks, "pred": pred, "gold": gold, "correct": correct,
            "score": pc.cast(correct, pa.float64())}


def generation_columns(table: pa.Table) -> dict[str, pa.Array] | None:
    """Generation columns (output, target, score, correct) from the first filtered response and exact_match."""
    responses = table["filtered_resps"].combine_chunks()
    if not pa.types.is_string(responses.type.value_type):
        return None
    score = _column(table, "exact_match", pa.float64())
    return {"output": pc.list_element(responses, 0), "target": pc.cast(table["target"].combine_chunks(), pa.string()),
            "score": score, "correct": pc.equal(score, 1.0)}


def metrics_column(table: pa.Table) -> pa.Array | None:
    """The per-sample metrics map, in bulk: lm-eval lists the same metric names on every line of a task.
    None (read the file line by line) when lines list different metrics or a value is missing."""
    n = table.num_rows
    if "metrics" not in table.column_names or n == 0:
        return pa.nulls(n, FIELD_TYPES["metrics"])
    lists = table["metrics"].to_pylist()
    names = [m for m in (lists[0] or []) if m in table.column_names and _numeric(table[m].type)]
    if any(row != lists[0] for row in lists) or any(table[m].null_count for m in names):
        return None
    keys = pa.array(names * n, pa.string())
    columns = [pc.cast(table[m].combine_chunks(), pa.float64()).to_numpy(zero_copy_only=False) for m in names]
    items = np.stack(columns, axis=1).reshape(-1) if names else np.zeros(0)
    offsets = pa.array(np.arange(n + 1, dtype=np.int32) * len(names))
    return pa.MapArray.from_arrays(offsets, keys, pa.array(items, pa.float64()))


def _numeric(type_: pa.DataType) -> bool:
    return pa.types.is_integer(type_) or pa.types.is_floating(type_) or pa.types.is_boolean(type_)


def padded(offsets: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Lists given by Arrow offsets as one (lists, longest) array, ``-inf`` after each list's end.

    >>> padded(np.array([0, 3, 5]), np.array([-2.0, -1.0, -1.0, -4.0, -3.0]))[1].tolist()
    [-4.0, -3.0, -inf]
    """
    lengths = np.diff(offsets)
    out = np.full((len(lengths), int(lengths.max(initial=0))), -np.inf)
    rows = np.repeat(np.arange(len(lengths)), lengths)
    out[rows, np.arange(len(values)) - np.repeat(offsets[:-1], lengths)] = values
    return out


def _column(table: pa.Table, name: str, type_: pa.DataType) -> pa.Array:
    if name not in table.column_names:
        return pa.nulls(table.num_rows, type_)
    return pc.cast(table[name].combine_chunks(), type_)


def _check_unique(doc_ids: list, path: Path, filter_name: str | None) -> None:
    seen: set = set()
    for doc_id in doc_ids:
        check_new(doc_id, seen, path, filter_name)
