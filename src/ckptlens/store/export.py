"""Export store records as JSONL or CSV (``ckptlens records``).

Columns are the record schema's, in its order; in CSV the list columns
(``logliks``, ``choice_tokens``) are JSON arrays and null is an empty field.
The ``metrics`` map is a JSON object in both (``{"acc": 1.0, "acc_norm": 0.0}``).
"""

from __future__ import annotations

import csv
import json
from typing import TextIO

from ckptlens.errors import CkptlensError
from ckptlens.store.records import RECORD_SCHEMA
from ckptlens.store.store import Store

FORMATS = ("jsonl", "csv")


def export_records(store: Store, out: TextIO, fmt: str = "jsonl", runs=None, tasks=None) -> int:
    """Write the records of ``runs``/``tasks`` (all when None) to ``out``; returns the number of rows."""
    if fmt not in FORMATS:
        raise CkptlensError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    table = store.read(runs, tasks)
    table = table.sort_by([("run", "ascending"), ("task", "ascending"), ("step", "ascending"),
                           ("example_id", "ascending")])
    writer = csv.DictWriter(out, fieldnames=RECORD_SCHEMA.names) if fmt == "csv" else None
    if writer:
        writer.writeheader()
    for batch in table.to_batches(max_chunksize=10_000):
        for row in batch.to_pylist():
            row["metrics"] = None if row.get("metrics") is None else dict(row["metrics"])
            if writer:
                writer.writerow(_csv_row(row))
            else:
                out.write(json.dumps(row) + "\n")
    return table.num_rows


def _csv_row(row: dict) -> dict:
    return {k: json.dumps(v) if isinstance(v, list | dict) else ("" if v is None else v) for k, v in row.items()}
