"""Record tables compared as the contract for shards states: every column equal, float sums up to float noise.

A shard is scored in batches of its own examples, so its log-likelihoods may differ from the whole
unit's in the last bits, exactly as with another ``--batch-size``.
"""

import pyarrow as pa
import pytest

FLOAT_COLUMNS = ("logliks", "nll")
KEYS = [("run", "ascending"), ("checkpoint", "ascending"), ("task", "ascending"), ("example_id", "ascending")]


def assert_same_records(table: pa.Table, expected: pa.Table, atol: float = 1e-5) -> None:
    """Equal rows in the same order, every column identical except the float sums, which agree within ``atol``."""
    assert table.schema == expected.schema and table.num_rows == expected.num_rows
    for name in table.column_names:
        got, want = table[name].to_pylist(), expected[name].to_pylist()
        if name in FLOAT_COLUMNS:
            assert got == [None if w is None else pytest.approx(w, abs=atol) for w in want], name
        else:
            assert got == want, name


def sorted_records(table: pa.Table) -> pa.Table:
    return table.sort_by(KEYS)
