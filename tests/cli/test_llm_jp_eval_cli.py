"""Acceptance: llm-jp-eval datasets of 3 categories end to end on the tiny series, and the import round trip.

eval; the run's records written as llm-jp-eval result files (one per checkpoint) and imported as a second run
give the same per-example scores; stability --categories llm-jp-eval; report with the study's figures;
capabilities --categories llm-jp-eval.
The fixture tokenizer is word-level English, so the Japanese prompts are unknown tokens: this checks plumbing.
"""

from __future__ import annotations

import json

import pytest

from ckptlens.store import Store
from ckptlens.tasks.llm_jp_eval import category_scores
from tests.tasks.llm_jp_eval_files import METRICS, SAMPLES, write_datasets


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, tiny_series, one_thread):
    root = tmp_path_factory.mktemp("llmjp_e2e")
    evaluation = write_datasets(root)
    return root, evaluation


def test_eval_stability_report_and_import_round_trip(evaluated, tiny_series, cli):
    root, evaluation = evaluated
    store = root / "store"
    code, _, err = cli("eval", tiny_series, "--tasks", f"llm-jp-eval:{evaluation}", "--store", store,
                       "--num-fewshot", "2", "--run", "tiny-1m", "--batch-size", "4")
    assert code == 0, err
    records = Store(store).read(["tiny-1m"])
    assert sorted(set(records["task"].to_pylist())) == ["chabsa", "jnli", "jsquad"]
    assert set(records["task_version"].to_pylist()) == {"llm-jp-eval v1.4.1"}
    first_keys = {t: m[0][0] for t, m in zip(records["task"].to_pylist(), records["metrics"].to_pylist())}
    assert first_keys == {"jnli": "exact_match", "jsquad": "char_f1", "chabsa": "set_f1"}

    results = write_result_files(records, root / "results")
    code, _, err = cli("import", "llm-jp-eval", results, "--store", store, "--run", "tiny-2m", "--size", "2m")
    assert code == 0, err
    assert per_example(Store(store).read(["tiny-2m"])) == per_example(records)

    code, out, err = cli("stability", "--store", store, "--categories", "llm-jp-eval", "--by", "category",
                         "--last", "1.0", "--windows", "1,2", "--bootstrap", "0", "--format", "json")
    assert code == 0, err
    assert {row["category"] for row in json.loads(out)} <= {"NLI", "RC", "EL"}  # near-chance tasks leave the means

    code, _, err = cli("report", "--store", store, "--out", root / "report", "--last", "1.0", "--windows", "1,2",
                       "--categories", "llm-jp-eval")
    assert code == 0, err
    assert (root / "report" / "figures" / "tiny-1m__study_window_size.png").stat().st_size > 0
    window_table = (root / "report" / "study_window_size.csv").read_text()
    assert all(category in window_table for category in ("NLI", "RC", "EL"))
    assert "window size" in (root / "report" / "report.html").read_text()
    study_scores = (root / "report" / "study_scores.csv").read_text()
    assert "tiny-1m,40,AVG," in study_scores and "tiny-2m,40,NLI," in study_scores
    code, _, err = cli("capabilities", "--store", store, "--out", root / "capabilities", "--categories", "llm-jp-eval")
    assert code == 0, err
    assert {"EL", "NLI", "RC"} <= set((root / "capabilities" / "category_curves.csv").read_text().split(","))

    by_size = (root / "report" / "study_by_size.csv").read_text().splitlines()
    assert by_size[0] == "category,n_params,run,example_mtv,instability_score"
    assert [line.split(",")[1] for line in by_size[1:3]] == ["1000000", "2000000"]  # from the name, from --size


def write_result_files(records, folder):
    """The native records as llm-jp-eval result files: one per checkpoint, ``scores`` and ``outputs``."""
    rows = records.to_pylist()
    for step in sorted({r["step"] for r in rows}):
        outputs = {}
        for r in sorted((r for r in rows if r["step"] == step), key=lambda r: (r["task"], int(r["example_id"]))):
            sample = SAMPLES[r["task"]][2 + int(r["example_id"])]
            outputs.setdefault(r["task"], []).append({"input": sample[0], "pred": r["output"], "gold": r["target"]})
        scores = {t: sum(r["score"] for r in rows if r["step"] == step and r["task"] == t) / len(o)
                  for t, o in outputs.items()}
        categories, overall = category_scores(scores)
        named = {f"{t}_{METRICS[t][0]}": v for t, v in scores.items()}
        data = {"config": {"model": {"pretrained_model_name_or_path": f"/models/tiny-1m/step{step}"}},
                "scores": {**named, **categories, "AVG": overall}, "outputs": outputs}
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"result_step{step}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder


def per_example(table) -> dict:
    return {
        (r["step"], r["task"], r["example_id"]): (r["output"], r["target"], r["score"], dict(r["metrics"]))
        for r in table.to_pylist()
    }
