import pyarrow.parquet as pq

from ckptlens.store import Store, aggregates_table, records_table


def test_units_are_written_atomically_and_read_back(tmp_path):
    store = Store(tmp_path)
    rows = [{"run": "r", "checkpoint": "step10", "step": 10, "task": "t", "example_id": "a", "logliks": [-1.0, -2.0],
             "pred": 0, "gold": 0, "correct": True, "score": 1.0}]
    path = store.write_unit("r", "step10", "t", records_table(rows))
    assert store.has_unit("r", "step10", "t") and not store.has_unit("r", "step20", "t")
    assert [p.name for p in path.parent.iterdir()] == ["step10.parquet"]
    table = store.read()
    assert table.num_rows == 1 and table["logliks"][0].as_py() == [-1.0, -2.0] and table["kind"][0].as_py() is None


def test_aggregates_live_beside_records(tmp_path):
    store = Store(tmp_path)
    rows = [{"run": "pythia", "checkpoint": "step1000", "step": 1000, "task": "piqa", "metric": "acc", "value": 0.6}]
    store.write_aggregates("pythia", "step1000", aggregates_table(rows))
    assert store.runs() == ["pythia"]
    table = store.read_aggregates()
    assert table.to_pylist()[0]["value"] == 0.6 and table.to_pylist()[0]["stderr"] is None
    assert store.read().num_rows == 0
    assert pq.read_table(store.aggregates_path("pythia", "step1000")).num_rows == 1
