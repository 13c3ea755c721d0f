"""lm-eval 0.4.x results + samples of three checkpoints become the records and aggregates the files say."""

from __future__ import annotations

import json

import pytest

from ckptlens.importers import import_lm_eval
from ckptlens.store import Store
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, GenerationSample, write_new_format

STEPS = (1000, 2000, 3000)


def choice_samples(step: int, n: int = 6) -> list[ChoiceSample]:
    """Log-likelihoods that move with the step, so predictions differ between checkpoints."""
    return [
        ChoiceSample(i, f"question {i}", ["red", "blue", "green", "cat"], gold=i % 4,
                     logliks=[-1.0 - ((i + c + step // 1000) % 4) * 0.5 for c in range(4)])
        for i in range(n)
    ]


def generation_samples(step: int) -> list[GenerationSample]:
    return [GenerationSample(i, f"2 + {i}?", str(2 + i), str(2 + i) if (i + step // 1000) % 2 else "no")
            for i in range(4)]


@pytest.fixture
def lm_eval_out(tmp_path):
    out = tmp_path / "lm-eval-out"
    for k, step in enumerate(STEPS):
        checkpoint = Checkpoint(f"step{step}", {"arc_easy": choice_samples(step), "gsm8k": generation_samples(step)},
                                stamp=f"2024-05-0{k + 1}T12-00-00.000000")
        write_new_format(out, checkpoint, folder=f"pythia-160m-step{step}")
    return out


def test_records_equal_what_the_samples_say(lm_eval_out, tmp_path):
    summary = import_lm_eval([lm_eval_out], tmp_path / "store")
    assert summary.runs == ("pythia-160m",) and summary.checkpoints == 3 and summary.records == 3 * (6 + 4)
    records = Store(tmp_path / "store").read(tasks=["arc_easy"]).to_pylist()
    assert {r["step"] for r in records} == set(STEPS)
    for record in records:
        sample = next(s for s in choice_samples(record["step"]) if str(s.doc_id) == record["example_id"])
        pred = max(range(4), key=lambda i: (sample.logliks[i], -i))
        assert record["logliks"] == sample.logliks
        assert (record["pred"], record["gold"]) == (pred, sample.gold)
        assert record["correct"] == (pred == sample.gold) and record["score"] == float(pred == sample.gold)
        assert record["output"] is None and record["target"] is None  # option texts stay in lm-eval's files
        assert record["kind"] == "multiple_choice" and record["checkpoint"] == f"step{record['step']}"
        assert record["dtype"] == "float16" and record["prompt_hash"] == sample.line()["prompt_hash"]  # all 64 digits


def test_generation_records_keep_text_and_exact_match(lm_eval_out, tmp_path):
    import_lm_eval([lm_eval_out], tmp_path / "store")
    records = Store(tmp_path / "store").read(tasks=["gsm8k"]).to_pylist()
    for record in records:
        sample = next(s for s in generation_samples(record["step"]) if str(s.doc_id) == record["example_id"])
        assert (record["kind"], record["output"], record["target"]) == ("generation", sample.output, sample.answer)
        assert record["score"] == float(sample.output == sample.answer)
        assert record["pred"] is None and record["logliks"] is None


def test_aggregates_split_metric_and_filter(lm_eval_out, tmp_path):
    import_lm_eval([lm_eval_out], tmp_path / "store")
    rows = Store(tmp_path / "store").read_aggregates().to_pylist()
    arc = [r for r in rows if r["task"] == "arc_easy" and r["step"] == 1000]
    assert [(r["metric"], r["filter"], r["stderr"], r["num_fewshot"]) for r in arc] == [
        ("acc", "none", 0.05, 0), ("n_samples", None, None, 0)]  # n-samples: the example count, kept
    expected = sum(s.line()["acc"] for s in choice_samples(1000)) / 6
    assert arc[0]["value"] == pytest.approx(expected) and arc[1]["value"] == 6
    scored = {(r["task"], r["filter"]) for r in rows if r["metric"] != "n_samples"}
    assert scored == {("arc_easy", "none"), ("gsm8k", "strict-match")}


def test_run_info_records_source_and_size(lm_eval_out, tmp_path):
    import_lm_eval([lm_eval_out], tmp_path / "store", run="mine", n_params=123)
    info = Store(tmp_path / "store").run_info("mine")
    assert info["source"] == "lm-eval" and info["n_params"] == 123 and len(info["import_paths"]) == 3
    import_lm_eval([lm_eval_out], tmp_path / "store2")
    assert Store(tmp_path / "store2").run_info("pythia-160m")["n_params"] == 162322944  # lm-eval's own count


def test_revision_in_model_revision_only_and_tokens_from_olmo_names(tmp_path):
    out = tmp_path / "out"
    folder = write_new_format(out, Checkpoint("stage1-step1000-tokens4B", {"piqa": choice_samples(1)},
                                              model="allenai/OLMo-1B"))
    results = next(folder.glob("results_*.json"))
    data = json.loads(results.read_text())
    data["config"]["model_args"] = {"pretrained": "allenai/OLMo-1B"}  # a dict, revision only in model_revision
    results.write_text(json.dumps(data))
    import_lm_eval([out], tmp_path / "store")
    record = Store(tmp_path / "store").read().to_pylist()[0]
    assert (record["run"], record["step"], record["tokens_seen"]) == ("OLMo-1B", 1000, 4_000_000_000)
