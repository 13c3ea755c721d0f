"""``ckptlens import lm-eval`` end to end, then ``ckptlens stability`` on the imported run."""

from __future__ import annotations

import json

from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format, write_old_format


def write_series(out, steps=range(100, 1100, 100)):
    for k, step in enumerate(steps):
        samples = [ChoiceSample(i, f"q {i}", ["a", "b", "c"], gold=i % 3,
                                logliks=[-1.0 - ((i * c + step // 100) % 3) for c in range(3)]) for i in range(8)]
        write_new_format(out, Checkpoint(f"step{step}", {"arc_easy": samples}, stamp=f"2024-01-01T00-00-{k:02d}.0"),
                         folder="EleutherAI__pythia-160m")  # lm-eval puts every revision in one folder


def test_import_then_stability_gives_rows_for_the_run(cli, tmp_path):
    write_series(tmp_path / "out")
    store = tmp_path / "store"
    code, _, err = cli("import", "lm-eval", tmp_path / "out", "--store", store, "--run", "mine", "--n-params", "1000")
    assert code == 0, err
    assert "imported 10 checkpoints into run(s) mine" in " ".join(err.split())
    code, out, err = cli("stability", "--store", store, "--format", "json")
    assert code == 0, err
    rows = [r for r in json.loads(out) if r["run"] == "mine" and r["method"] == "raw"]
    assert rows and rows[0]["task"] == "arc_easy" and rows[0]["example_mtv"] is not None


def test_results_without_step_exit_2_with_one_line(cli, tmp_path):
    write_old_format(tmp_path / "r" / "results.json", "main", {"piqa": {"acc": 0.5}})
    code, _, err = cli("import", "lm-eval", tmp_path / "r", "--store", tmp_path / "store")
    assert code == 2 and "--step-from" in err and len(err.strip().splitlines()) <= 2
