"""``ckptlens representations`` on the tiny series: stored compactly, CKA per layer of neighbours."""

import json

import numpy as np

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.diagnostics.representations import linear_cka
from ckptlens.report import ReportConfig, write_report
from ckptlens.store import Store
from ckptlens.store.representations import read_states, states_folder
from tests.cli.conftest import write_mc_task


def test_representations_are_stored_compactly_and_compared_between_neighbours(tiny_series, tmp_path, cli, one_thread):
    task = write_mc_task(tmp_path / "colours.jsonl", n=12)
    store = tmp_path / "store"
    code, out, err = cli("eval", tiny_series, "--tasks", task, "--store", store, "--run", "tiny")
    assert code == 0, err
    code, out, err = cli("representations", tiny_series, "--tasks", task, "--store", store, "--run", "tiny",
                         "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert {(r["step_a"], r["step_b"]) for r in rows} == {(10, 20), (20, 30), (30, 40)}
    assert {r["layer"] for r in rows} == {1, 2}  # the middle and the last of 2 blocks
    data = read_states(Store(store), "tiny", "colours")
    assert data.mean.dtype == np.float16 and data.mean.shape == (4, 2, 12, 32) and data.seed == 0
    files = list(states_folder(Store(store), "tiny", "colours").glob("*.npz"))
    assert len(files) == 4 and sum(f.stat().st_size for f in files) / (12 * 4) <= 2048  # bytes per (example,
    # checkpoint), file overhead included
    first = next(r for r in rows if r["step_a"] == 10 and r["layer"] == 2)
    assert abs(first["cka"] - linear_cka(data.mean[0, 1], data.mean[1, 1])) < 1e-12
    assert all(r["flip_spearman"] is None or -1 <= r["flip_spearman"] <= 1 for r in rows)
    assert any(r["flip_spearman"] is not None for r in rows)  # the store holds the run's records: flips known
    config = ReportConfig(stability=StabilityConfig(last=0.5, windows=(2,), bootstrap=0, adaptive=None))
    report = write_report(Store(store), tmp_path / "report", config).html.read_text()
    assert "Representations over training" in report and "CKA between neighbouring checkpoints ranges" in report
    code, _, err = cli("representations", tiny_series, "--tasks", task, "--store", store, "--layers", "9")
    assert code == 2 and "--layers 9" in err
