"""Per-example records in Parquet, one file per (run, checkpoint, task)."""

from ckptlens.store.check import StoreProblems, check_store, repair_store
from ckptlens.store.claims import Claim
from ckptlens.store.export import export_records
from ckptlens.store.prompts import PromptChange, prompt_changes, same_prompt
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
from ckptlens.store.runs import RunInfo
from ckptlens.store.store import Shard, Store

__all__ = [
    "AGGREGATE_SCHEMA",
    "Claim",
    "DRIFT_SCHEMA",
    "RECORD_SCHEMA",
    "RunInfo",
    "SAMPLE_COUNT",
    "WHOLE_MODEL",
    "PromptChange",
    "Shard",
    "StoreProblems",
    "Store",
    "aggregates_table",
    "check_store",
    "drift_table",
    "export_records",
    "prompt_changes",
    "records_table",
    "repair_store",
    "same_prompt",
]
