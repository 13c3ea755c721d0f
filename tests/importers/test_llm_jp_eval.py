"""llm-jp-eval result files: per-example metrics recomputed, steps from names or --step-from, clear errors."""

from __future__ import annotations

import json

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.importers.llm_jp_eval import import_llm_jp_eval
from ckptlens.store import Store


def write_result(folder, name, model, outputs, scores=None):
    folder.mkdir(parents=True, exist_ok=True)
    data = {"config": {"model": {"pretrained_model_name_or_path": model}}, "scores": scores or {"jsquad_char_f1": 0.9},
            "outputs": outputs}
    (folder / name).write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


OUTPUTS = {
    "jsquad": [
        {"input": "q1", "pred": "東京都", "gold": "東京"},
        {"input": "q2", "pred": "ＡＢＣ\n\nmore", "gold": "ABC"},
    ],
    "chabsa": [{"input": "q", "pred": "売上 positive\n利益 negative", "gold": "売上 positive"}],
    "jnli": [{"input": "q", "pred": "entailment", "gold": "entailment"}],
}


def test_metrics_are_recomputed_per_example(tmp_path):
    for step in (100, 200):
        write_result(tmp_path / "results", f"r{step}.json", f"/ckpt/llm-jp-1.8b/iter_{step:07d}", OUTPUTS)
    summary = import_llm_jp_eval([tmp_path / "results"], Store(tmp_path / "store"), step_from=r"iter_(\d+)")
    assert (summary.runs, summary.checkpoints, summary.records) == (("llm-jp-1.8b",), 2, 8)
    rows = {(r["step"], r["task"], r["example_id"]): r for r in Store(tmp_path / "store").read().to_pylist()}
    assert rows[(100, "jsquad", "0")]["score"] == 0.8  # char_f1: Indel 1 over 5 characters
    assert rows[(100, "jsquad", "1")]["output"] == "ABC" and rows[(100, "jsquad", "1")]["score"] == 1.0
    assert rows[(200, "chabsa", "0")]["score"] == pytest.approx(2 / 3)  # set_f1: precision 1/2, recall 1
    assert dict(rows[(200, "jnli", "0")]["metrics"]) == {"exact_match": 1.0}
    assert rows[(200, "jnli", "0")]["category"] == "NLI"


def test_run_named_after_the_model_and_sized(tmp_path):
    write_result(tmp_path / "r", "a.json", "/ckpt/llm-jp-1.8b/checkpoint-500", OUTPUTS)
    import_llm_jp_eval([tmp_path / "r"], Store(tmp_path / "store"))
    store = Store(tmp_path / "store")
    assert store.runs() == ["llm-jp-1.8b"]
    assert store.run_info("llm-jp-1.8b")["n_params"] == 1_800_000_000
    aggregates = store.read_aggregates().to_pylist()
    assert [(a["task"], a["metric"], a["value"], a["step"]) for a in aggregates] == [("jsquad", "char_f1", 0.9, 500)]


def test_a_file_score_that_is_not_the_recomputed_one_is_named(tmp_path):
    write_result(tmp_path / "r", "a.json", "/ckpt/m/step10", OUTPUTS, {"jsquad_char_f1": 0.5, "AVG": 0.5})
    with pytest.warns(UserWarning, match="jsquad_char_f1 is 0.5 in the file but 0.9000 recomputed"):
        import_llm_jp_eval([tmp_path / "r"], Store(tmp_path / "store"))


def test_errors_name_the_file_and_the_fix(tmp_path):
    write_result(tmp_path / "r", "a.json", "/ckpt/final", OUTPUTS)
    with pytest.raises(CkptlensError, match="--step-from"):
        import_llm_jp_eval([tmp_path / "r" / "a.json"], Store(tmp_path / "store"))
    (tmp_path / "bad.json").write_text(json.dumps({"scores": {}, "outputs": {"x": [{"pred": "a"}]}}))
    with pytest.raises(CkptlensError, match=r"bad.json: field outputs.x\[0\].gold is missing"):
        import_llm_jp_eval([tmp_path / "bad.json"], Store(tmp_path / "store"), step_from=r"(\d+)")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CkptlensError, match="no llm-jp-eval result files"):
        import_llm_jp_eval([tmp_path / "empty"], Store(tmp_path / "store"))
    assert not (tmp_path / "store" / "records").exists()  # nothing written before the inputs are checked
