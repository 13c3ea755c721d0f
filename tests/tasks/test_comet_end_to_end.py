"""COMET end to end with a fake ``comet`` module: eval on the tiny series, the import round trip, the MT category
and the report's note, and the BLEU fallback the report names.

The fixture tokenizer is word-level English, so the outputs are gibberish: this checks the wiring (which texts
COMET gets, how often the model loads, which score the records and the MT category hold).
"""

from __future__ import annotations

from statistics import mean
from types import SimpleNamespace

import pytest

from ckptlens.report.study import mt_scoring_note
from ckptlens.store import Store
from ckptlens.tasks.comet import comet_scorer
from ckptlens.tasks.llm_jp_eval import nfkc
from tests.tasks.comet_fake import fake_score, write_model_folder
from tests.tasks.llm_jp_eval_files import MT_SAMPLES, write_datasets, write_mt_dataset

DEV = MT_SAMPLES[2:]  # the dev split's samples


@pytest.fixture
def evaluation(tmp_path, one_thread):
    folder = write_datasets(tmp_path)
    write_mt_dataset(folder)
    for name in ("jsquad", "chabsa"):  # two categories are enough here
        for split in ("train", "dev", "test"):
            (folder / split / f"{name}.json").unlink()
    return folder


def test_mt_scored_by_comet_in_eval_import_category_and_report(evaluation, tiny_series, fake_comet, tmp_path, cli):
    model, store = write_model_folder(tmp_path / "wmt22-comet-da"), tmp_path / "store"
    code, _, err = cli("eval", tiny_series, "--tasks", f"llm-jp-eval:{evaluation}", "--store", store,
                       "--num-fewshot", "1", "--run", "tiny-1m", "--batch-size", "4", "--comet-model", model)
    assert code == 0, err
    assert len(fake_comet.loads) == 1 and len(fake_comet.calls) == 4  # one load; one predict per checkpoint
    assert [s["src"] for s in fake_comet.calls[0]["samples"]] == [i for i, _ in DEV]
    rows = [r for r in Store(store).read(["tiny-1m"]).to_pylist() if r["task"] == "alt-e-to-j"]
    assert len(rows) == 4 * len(DEV) and all(r["category"] == "MT" for r in rows)
    for r in rows:
        source, gold = DEV[int(r["example_id"])]
        assert r["target"] == nfkc(gold) and [k for k, _ in r["metrics"]][:2] == ["comet_wmt22", "bleu_ja"]
        assert r["score"] == dict(r["metrics"])["comet_wmt22"] == fake_score(source, r["output"], r["target"])

    results = write_result_files(rows, tmp_path / "results")
    comet_scorer.cache_clear()
    code, _, err = cli("import", "llm-jp-eval", results, "--store", store, "--run", "tiny-2m", "--comet-model", model)
    assert code == 0, err
    assert len(fake_comet.loads) == 2  # once more for the import command, not per file
    imported = {(r["step"], r["example_id"]): r["score"] for r in Store(store).read(["tiny-2m"]).to_pylist()}
    assert imported == {(r["step"], r["example_id"]): r["score"] for r in rows}

    code, _, err = cli("report", "--store", store, "--out", tmp_path / "report", "--last", "1.0",
                       "--windows", "1,2", "--categories", "llm-jp-eval")
    assert code == 0, err
    last = [r["score"] for r in rows if r["step"] == 40]
    scores = (tmp_path / "report" / "study_scores.csv").read_text().splitlines()
    mt = next(line for line in scores if line.startswith("tiny-1m,40,MT,"))
    assert float(mt.split(",")[3]) == pytest.approx(mean(last))  # the MT category is the mean COMET score
    assert "MT is scored by BLEU" not in (tmp_path / "report" / "report.html").read_text()


def test_the_report_names_the_mt_datasets_scored_by_bleu():
    matrices = [SimpleNamespace(task="alt-e-to-j", metric="bleu_ja"), SimpleNamespace(task="jnli", metric="x"),
                SimpleNamespace(task="alt-j-to-e", metric="comet_wmt22")]
    note = mt_scoring_note(matrices)
    assert note.startswith("MT is scored by BLEU, not COMET, for alt-e-to-j (bleu_ja): COMET's package or model")
    assert mt_scoring_note(matrices[1:]) == ""


def write_result_files(rows, folder):
    """The native MT records as llm-jp-eval result files (one per checkpoint): input, pred, gold and the score."""
    import json

    folder.mkdir()
    for step in sorted({r["step"] for r in rows}):
        chosen = sorted((r for r in rows if r["step"] == step), key=lambda r: int(r["example_id"]))
        outputs = [{"input": DEV[int(r["example_id"])][0], "pred": r["output"], "gold": r["target"]} for r in chosen]
        scores = {"alt-e-to-j_comet_wmt22": mean(r["score"] for r in chosen)}
        data = {"config": {"model": {"pretrained_model_name_or_path": f"/models/tiny-2m/step{step}"}},
                "scores": scores, "outputs": {"alt-e-to-j": outputs}}
        (folder / f"result_step{step}.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return folder
