"""``ckptlens drift``: rows on stdout as JSON, CSV or a table, an optional figure, one-line errors."""

import csv
import io
import json
import shutil

from ckptlens.diagnostics import series_drift
from ckptlens.store import Store, records_table


def test_drift_json_matches_the_api_and_writes_the_figure(cli, tiny_series, tmp_path):
    code, out, err = cli("drift", tiny_series, "--format", "json", "--plot", tmp_path / "drift.png")
    assert code == 0, err
    assert json.loads(out) == [r.to_dict() for r in series_drift(tiny_series)]
    assert (tmp_path / "drift.png").stat().st_size > 0


def test_drift_csv_and_table(cli, tiny_series):
    code, out, _ = cli("drift", tiny_series, "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and list(rows[0]) == ["step_a", "step_b", "module", "l2", "relative_l2", "cosine"]
    whole = [(r["step_a"], r["step_b"]) for r in rows if r["module"] == "all"]
    assert whole == [("10", "20"), ("20", "30"), ("30", "40")]
    code, out, _ = cli("drift", tiny_series)
    assert code == 0 and "Parameter drift, whole model" in out and "30" in out


def test_drift_of_one_checkpoint_is_a_one_line_error(cli, tiny_series, tmp_path):
    shutil.copytree(tiny_series / "step000020", tmp_path / "step000020")
    code, _, err = cli("drift", tmp_path)
    assert code == 2 and "only one" in err and "Traceback" not in err


def test_drift_is_recorded_under_the_run_that_evaluated_the_series(cli, tiny_series, tmp_path):
    store = Store(tmp_path / "store")
    store.write_run_info("tiny", {"series": str(tiny_series)})
    store.write_run_info("other", {"series": str(tmp_path / "elsewhere")})
    store.write_unit("tiny", "step000010", "t", records_table([]))
    store.write_unit("other", "step000010", "t", records_table([]))
    code, _, err = cli("drift", tiny_series, "--store", store.root, "--format", "csv")
    assert code == 0, err
    assert store.read_drift("tiny").to_pylist() == [r.to_dict() for r in series_drift(tiny_series)]
    assert store.read_drift("other") is None


def test_drift_store_without_a_matching_run_asks_for_one(cli, tiny_series, tmp_path):
    store = Store(tmp_path / "store")
    store.write_unit("other", "step000010", "t", records_table([]))
    code, _, err = cli("drift", tiny_series, "--store", store.root)
    assert code == 2 and "name the run with --run" in err and "Traceback" not in err
    code, _, err = cli("drift", tiny_series, "--store", store.root, "--run", "mine", "--format", "csv")
    assert code == 0 and store.read_drift("mine").num_rows > 0
