"""Per-example records in Parquet, one file per (run, checkpoint, task)."""

from ckptlens.store.claims import Claim
from ckptlens.store.export import export_records
from ckptlens.store.records import (
    AGGREGATE_SCHEMA,
    DRIFT_SCHEMA,
    RECORD_SCHEMA,
    SAMPLE_COUNT,
    WHOLE_MODEL,
    aggregates_table,
    drift_table,
    records_table,
)
from ckptlens.store.store import Shard, Store

__all__ = [
    "AGGREGATE_SCHEMA",
    "Claim",
    "DRIFT_SCHEMA",
    "RECORD_SCHEMA",
    "SAMPLE_COUNT",
    "WHOLE_MODEL",
    "Shard",
    "Store",
    "aggregates_table",
    "drift_table",
    "export_records",
    "records_table",
]
