"""RunInfo: the typed run description, and the one definition of a base run and its averages."""

import json

import pytest

from ckptlens.analysis.curves import run_sizes
from ckptlens.analysis.stability import averaged_runs
from ckptlens.errors import CkptlensError
from ckptlens.store import RunInfo, Store, records_table


def _unit(store: Store, run: str) -> None:
    row = dict(run=run, checkpoint="step10", step=10, task="t", kind="multiple_choice", example_id="0",
               logliks=[-1.0, -2.0], pred=0, gold=0, correct=True, score=1.0)
    store.write_unit(run, "step10", "t", records_table([row]))


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(tmp_path / "store")
    infos = {
        "raw-160m": {"series": "/runs/raw", "n_params": 160_000_000, "checkpoints": ["step10"]},
        "raw-avg2": {"series": "/runs/raw#average-window=2", "averaged_from": "/runs/raw", "window": 2},
        "raw-avg4": {"series": "/runs/avg4", "averaged_from": "/runs/raw", "window": 4},
        "other-avg2": {"series": "/runs/x", "averaged_from": "/runs/elsewhere", "window": 2},
        "imported-1b": {"source": "lm-eval", "models": ["m"]},
    }
    for run, info in infos.items():
        _unit(store, run)
        store.write_run_info(run, info)
    return store


def test_base_runs_and_their_averages_come_from_one_place(store):
    assert store.base_runs() == ["imported-1b", "raw-160m"]
    assert store.averaged_runs() == {("raw-160m", 2): "raw-avg2", ("raw-160m", 4): "raw-avg4"}
    assert averaged_runs(store) == (set(store.base_runs()), store.averaged_runs())
    assert run_sizes(store) == {"raw-160m": 160_000_000, "imported-1b": 1_000_000_000}


def test_typed_fields_and_unknown_keys_survive_a_round_trip(store):
    info = store.info("imported-1b")
    assert (info.run, info.source, info.is_base, info.extra) == ("imported-1b", "lm-eval", True, {"models": ["m"]})
    assert store.info("raw-160m").checkpoints == ("step10",)
    store.write_run_info("imported-1b", info)
    assert store.run_info("imported-1b") == {"run": "imported-1b", "source": "lm-eval", "models": ["m"]}
    assert store.info("raw-avg4") == RunInfo("raw-avg4", series="/runs/avg4", averaged_from="/runs/raw", window=4)


def test_a_malformed_value_is_one_clear_error(store):
    path = store.root / "runs" / "raw-avg4.json"
    path.write_text(json.dumps({"run": "raw-avg4", "averaged_from": "/runs/raw", "window": "four"}))
    with pytest.raises(CkptlensError, match="run 'raw-avg4': its description has a malformed value"):
        store.base_runs()
