"""lm-eval's tasks on ckptlens's engine: the same numbers as lm-eval's own HF model, resumable, mixable with imports."""

import csv
import json
import math

import pyarrow.compute as pc
import pytest

from ckptlens.analysis.matrix import store_matrix
from ckptlens.analysis.stability import StabilityConfig
from ckptlens.checkpoints import open_series
from ckptlens.checkpoints.loading import load_model
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, evaluate_series, evaluate_task
from ckptlens.importers import import_lm_eval
from ckptlens.report import ReportConfig, write_report
from ckptlens.store import Store
from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks, task_manager

NAMES = ["tiny_arc", "gsm8k", "wikitext"]


@pytest.fixture(scope="module")
def built(lm_eval_include):
    """The tasks (arc_easy, arc_challenge, gsm8k, wikitext), built once as `ckptlens eval` builds them."""
    return {t.name: t for t in build_lm_eval_tasks(NAMES, LmEvalOptions((str(lm_eval_include),), limit=4))}


def _lm_eval_results(model, tokenizer, include, num_fewshot=None) -> dict:
    """What `lm_eval --log_samples --limit 4` computes with its own HF model for ``model``: results and samples."""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM

    loaded = task_manager((str(include),)).load(NAMES)
    for task in loaded["tasks"].values():
        if num_fewshot is not None:
            task.set_config(key="num_fewshot", value=num_fewshot)
        elif task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
    return evaluate(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=3), loaded, limit=4,
                    log_samples=True, bootstrap_iters=0)


@pytest.fixture(scope="module")
def lm_eval_results(tiny_series, lm_eval_include, one_thread):
    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    return _lm_eval_results(model, tokenizer, lm_eval_include)


@pytest.fixture(scope="module")
def reference(lm_eval_results):
    """lm-eval's per-sample records (``--log_samples``) by task."""
    return lm_eval_results["samples"]


def test_records_match_lm_evals_own_model(tiny_series, built, reference, one_thread):
    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    for name, task in built.items():
        rows = evaluate_task(model, tokenizer, task, batch_size=2)
        samples = [s for s in reference[name] if s["filter"] == reference[name][0]["filter"]]
        assert [r["example_id"] for r in rows] == [str(s["doc_id"]) for s in samples]
        for row, sample in zip(rows, samples):
            assert row["prompt_hash"] == sample["prompt_hash"] and row["task_version"] == task.lm_eval.version
            metrics = dict(row["metrics"])
            if task.kind == "multiple_choice":  # acc and acc_norm, per-choice logliks, characters
                expected = [float(r[0]) for r in sample["filtered_resps"]]
                assert max(abs(a - b) for a, b in zip(row["logliks"], expected)) < 1e-4
                assert metrics == {"acc": sample["acc"], "acc_norm": sample["acc_norm"]}
                assert row["choice_chars"] == [len(c) for c in sample["doc"]["choices"]["text"]]
            elif task.kind == "generation":  # greedy text, then the regex filters and exact_match
                assert row["output"] == sample["resps"][0][0]
                assert metrics["exact_match"] == sample["exact_match"]
                assert "exact_match,flexible-extract" in metrics
            else:  # rolling loglikelihood: lm-eval's (loglik, weight) pairs
                assert math.isclose(-row["nll"], sample["resps"][0][0], rel_tol=1e-5)
                loglik, words = sample["word_perplexity"]
                weights = {i["key"]: i["weight"] for i in row["metric_info"]}
                assert math.isclose(metrics["word_perplexity"], loglik, rel_tol=1e-5)
                assert weights["word_perplexity"] == words and row["n_bytes"] == sample["bits_per_byte"][1]


def test_a_token_budget_splits_the_passes_of_lm_eval_tasks_without_changing_their_records(
        tiny_series, built, monkeypatch, one_thread):
    from ckptlens.evaluation import scoring

    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    passes = []

    def counted(model, rows, caches, count, hidden=False):
        out = forward(model, rows, caches, count, hidden)
        passes.append((len(rows), out[0].ids.numel()))
        return out

    forward = scoring.forward
    monkeypatch.setattr(scoring, "forward", counted)
    whole = evaluate_task(model, tokenizer, built["arc_easy"], batch_size=32, batch_tokens=10**6)
    assert [rows for rows, _ in passes] == [4]  # the 4 examples' options in one pass
    passes.clear()
    split = evaluate_task(model, tokenizer, built["arc_easy"], batch_size=32, batch_tokens=20)
    assert passes == [(1, 13)] * 4  # 13 tokens a row: one row a pass
    for a, b in zip(whole, split, strict=True):
        assert a["logliks"] == pytest.approx(b["logliks"], abs=1e-5) and a["metrics"] == b["metrics"]


@pytest.fixture(scope="module")
def group_store(tiny_series, built, tmp_path_factory, one_thread):
    """The group tiny_arc (arc_easy: 4 documents, arc_challenge: 3, so the weights matter) at steps 10, 20, 30."""
    store = tmp_path_factory.mktemp("group") / "store"
    tasks = [built["arc_easy"], built["arc_challenge"]]
    evaluate_series(open_series(str(tiny_series), "10,20,30"), tasks, Store(store), "run")
    return store


def test_a_groups_score_is_lm_evals_size_weighted_group_score(tiny_series, lm_eval_include, lm_eval_results, cli,
                                                               tmp_path, one_thread):
    store = tmp_path / "store"  # arc_easy: 4 documents, arc_challenge: 3, so the weights matter
    code, _, err = cli("eval", tiny_series, "--tasks", "lm-eval:tiny_arc", "--include-path", lm_eval_include,
                       "--limit", "4", "--steps", "10,20", "--store", store, "--device", "cpu")
    assert code == 0 and "evaluated 4 (checkpoint, task) units" in err, err
    results = lm_eval_results["results"]  # lm-eval's own at step 10
    for metric in ("acc", "acc_norm"):
        code, out, err = cli("scores", "--store", store, "--by", "category", "--metric", metric, "--format", "json")
        assert code == 0, err
        group = json.loads(out)[0]
        assert (group["category"], group["step"], group["n_tasks"], group["n_examples"]) == ("tiny_arc", 10, 2, 7)
        assert math.isclose(group["score"], results["tiny_arc"][f"{metric},none"], abs_tol=1e-12)
    easy, challenge = results["arc_easy"]["acc_norm,none"], results["arc_challenge"]["acc_norm,none"]
    assert math.isclose(group["score"], (4 * easy + 3 * challenge) / 7) and easy != challenge  # not (easy + c.) / 2
    code, out, err = cli("scores", "--store", store, "--metric", "acc_norm", "--format", "json")
    assert {r["task"]: (r["score"], r["n_examples"]) for r in json.loads(out) if r["step"] == 10} == {
        "arc_easy": (easy, 4), "arc_challenge": (challenge, 3)}
    code, out, _ = cli("scores", "--store", store, "--by", "category", "--metric", "acc_norm")
    assert code == 0 and "tiny_arc" in out and f"{group['score']:.3f}" in out
    code, _, err = cli("scores", "--store", store, "--run", "other")
    assert code == 2 and "no per-example scores of run other" in err


def test_the_report_shows_each_groups_score(group_store, tmp_path):
    config = ReportConfig(stability=StabilityConfig(last=1.0, windows=(2,), bootstrap=0))
    report = write_report(Store(group_store), tmp_path / "report", config)
    rows = list(csv.DictReader((tmp_path / "report" / "group_scores.csv").open()))
    assert [(r["category"], r["step"], r["n_tasks"], r["n_examples"]) for r in rows] == [
        ("tiny_arc", str(step), "2", "7") for step in (10, 20, 30)]
    page = report.html.read_text()
    assert "Group scores" in page and f"{float(rows[-1]['score']):.3f}" in page


def test_an_interrupted_run_evaluates_only_the_missing_units(tiny_series, built, tmp_path, one_thread):
    checkpoints = open_series(str(tiny_series), "10,20")
    tasks = [built["arc_easy"], built["gsm8k"]]
    seen = []

    def interrupt_after_first(checkpoint, task):
        seen.append((checkpoint.name, task.name))
        raise KeyboardInterrupt

    store = Store(tmp_path / "store")
    with pytest.raises(KeyboardInterrupt):
        evaluate_series(checkpoints, tasks, store, "run", EvalConfig(batch_size=4), on_unit=interrupt_after_first)
    summary = evaluate_series(checkpoints, tasks, store, "run", EvalConfig(batch_size=4))
    # the interrupted unit is stored; a unit already queued for the background writer is stored too
    assert summary.units_done + summary.units_skipped == 4 and summary.units_skipped >= 1
    records = store.read(["run"])
    assert records.num_rows == 2 * 4 + 2 * 4
    assert set(records["task_version"].to_pylist()) == {"1.0", "3.0"}


def _write_lm_eval_output(out, tiny_series, step: str, samples: dict) -> None:
    """``lm_eval --output_path out --log_samples`` files for one checkpoint, written by lm-eval's own tracker."""
    from lm_eval.loggers import EvaluationTracker

    tracker = EvaluationTracker(output_path=str(out))
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf", model_args=f"pretrained={tiny_series / step}", system_instruction=None,
        chat_template=None, fewshot_as_multiturn=False)
    model_args = f"pretrained={tiny_series / step}"
    results = {"results": {}, "configs": {}, "versions": {}, "config": {"model_args": model_args}}
    tracker.save_results_aggregated(results=results, samples=samples)
    for task, task_samples in samples.items():
        tracker.save_results_samples(task_name=task, samples=task_samples)


def test_imported_and_native_checkpoints_line_up_in_one_series(tiny_series, built, reference, tmp_path, one_thread):
    store = Store(tmp_path / "store")
    _write_lm_eval_output(tmp_path / "out", tiny_series, "step000010", {"arc_easy": reference["arc_easy"]})
    import_lm_eval([tmp_path / "out"], store, run="mixed", step_from=r"step(\d+)")
    evaluate_series(open_series(str(tiny_series), "20"), [built["arc_easy"]], store, "mixed")
    records = store.read(["mixed"])
    imported = records.filter(pc.equal(records["step"], 10)).sort_by("example_id")
    assert dict(imported["metrics"][0].as_py()) == {"acc": reference["arc_easy"][0]["acc"],
                                                    "acc_norm": reference["arc_easy"][0]["acc_norm"]}
    matrix = store_matrix(store, "mixed", "arc_easy", metric="acc_norm")
    assert list(matrix.steps) == [10, 20] and matrix.n_examples == 4
    assert matrix.score[:, 0].tolist() == [s["acc_norm"] for s in reference["arc_easy"]]


def test_a_prompt_that_differs_between_import_and_native_is_an_error(tiny_series, lm_eval_include, built, tmp_path,
                                                                     one_thread):
    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    other = _lm_eval_results(model, tokenizer, lm_eval_include, num_fewshot=2)["samples"]  # not the 0-shot prompts
    store = Store(tmp_path / "store")
    _write_lm_eval_output(tmp_path / "out", tiny_series, "step000010", {"arc_easy": other["arc_easy"]})
    import_lm_eval([tmp_path / "out"], store, run="mixed", step_from=r"step(\d+)")
    evaluate_series(open_series(str(tiny_series), "20"), [built["arc_easy"]], store, "mixed")
    with pytest.raises(CkptlensError, match=r"mixed/arc_easy: example 0 has prompt \w+ at step000010 but \w+ at step"):
        store_matrix(store, "mixed", "arc_easy")


def test_is_greedy_marks_a_choice_made_of_argmax_tokens(model_and_tokenizer):
    import torch

    from ckptlens.evaluation.scoring import score_multiple_choice
    from ckptlens.tasks.task import Example

    model, tokenizer = model_and_tokenizer
    context = "Q : what is the capital of Oslo ? A :"
    ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    with torch.inference_mode():
        best = int(model(torch.tensor([ids])).logits[0, -1].argmax())
    other = next(t for t in range(3, len(tokenizer)) if t != best)
    choices = tuple(" " + tokenizer.decode([t]) for t in (best, other))
    scores, = score_multiple_choice(model, tokenizer, [Example("e", context, choices)])
    assert scores.greedy == [True, False]
