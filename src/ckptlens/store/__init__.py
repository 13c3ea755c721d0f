"""Per-example records in Parquet, one file per (run, checkpoint, task)."""

from ckptlens.store.export import export_records
from ckptlens.store.records import RECORD_SCHEMA, records_table
from ckptlens.store.store import Store

__all__ = ["RECORD_SCHEMA", "Store", "export_records", "records_table"]
