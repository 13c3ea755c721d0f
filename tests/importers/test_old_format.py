"""Results files in the format the Pythia suite published: aggregates only, steps from the revision."""

from __future__ import annotations

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.importers import import_lm_eval
from ckptlens.store import Store
from tests.importers.lm_eval_files import write_old_format


def pythia_folder(root, shots: int, steps=(1000, 2000)):
    folder = root / ("zero-shot" if shots == 0 else "five-shot")
    for step in steps:
        results = {
            "piqa": {"acc": step / 10_000, "acc_stderr": 0.01, "acc_norm": 0.5, "acc_norm_stderr": 0.02},
            "lambada_openai": {"ppl": 1e6 / step, "ppl_stderr": 1.5, "acc": 0.3, "acc_stderr": 0.006},
        }
        write_old_format(folder / f"410m_step{step}.json", f"step{step}", results, num_fewshot=shots)
    return folder


def test_aggregates_with_metric_value_stderr_and_steps(tmp_path):
    summary = import_lm_eval([pythia_folder(tmp_path, 0)], tmp_path / "store")
    assert summary.runs == ("pythia-410m",) and summary.records == 0 and summary.aggregate_rows == 8
    rows = Store(tmp_path / "store").read_aggregates(["pythia-410m"]).to_pylist()
    piqa = sorted((r["step"], r["metric"], r["value"], r["stderr"]) for r in rows if r["task"] == "piqa")
    assert piqa == [(1000, "acc", 0.1, 0.01), (1000, "acc_norm", 0.5, 0.02),
                    (2000, "acc", 0.2, 0.01), (2000, "acc_norm", 0.5, 0.02)]
    ppl = [r for r in rows if r["metric"] == "ppl" and r["step"] == 2000][0]
    assert (ppl["value"], ppl["stderr"], ppl["filter"], ppl["num_fewshot"]) == (500.0, 1.5, None, 0)
    assert ppl["tokens_seen"] == 2000 * 2_097_152 and ppl["checkpoint"] == "step2000"


def test_run_names_keep_zero_and_five_shot_apart(tmp_path):
    summary = import_lm_eval([pythia_folder(tmp_path, 0), pythia_folder(tmp_path, 5)], tmp_path / "store")
    assert summary.runs == ("pythia-410m", "pythia-410m-5shot")
    store = Store(tmp_path / "store")
    assert store.run_info("pythia-410m")["n_params"] == 410_000_000
    assert {r["num_fewshot"] for r in store.read_aggregates(["pythia-410m-5shot"]).to_pylist()} == {5}


def test_one_explicit_run_refuses_mixed_shots(tmp_path):
    with pytest.raises(CkptlensError, match=r"piqa: results with [05] and [05] shots; import each setting"):
        import_lm_eval([pythia_folder(tmp_path, 0), pythia_folder(tmp_path, 5)], tmp_path / "store", run="p")


def test_a_second_import_adds_tasks_and_replaces_reimported_ones(tmp_path):
    folder = tmp_path / "a"
    write_old_format(folder / "x.json", "step10", {"piqa": {"acc": 0.5}})
    import_lm_eval([folder], tmp_path / "store", run="r")
    write_old_format(tmp_path / "b" / "y.json", "step10", {"sciq": {"acc": 0.7}})
    write_old_format(tmp_path / "c" / "z.json", "step10", {"piqa": {"acc": 0.6}})
    import_lm_eval([tmp_path / "b", tmp_path / "c"], tmp_path / "store", run="r")
    rows = Store(tmp_path / "store").read_aggregates().to_pylist()
    assert sorted((r["task"], r["value"]) for r in rows) == [("piqa", 0.6), ("sciq", 0.7)]
