"""`ckptlens scores` equals lm-eval's results JSON: every metric, filter, task and group, lm-eval's aggregations."""

import json
import math

import pytest

from ckptlens.checkpoints.loading import load_model
from ckptlens.tasks.lm_eval_index import task_manager

NAMES = ["lambada_openai", "wikitext", "gsm8k", "tiny_mmlu"]
LEAVES = ["lambada_openai", "wikitext", "gsm8k", "tiny_mmlu_anatomy", "tiny_mmlu_algebra", "tiny_mmlu_law",
          "tiny_mmlu_art"]
GROUPS = ["tiny_mmlu", "tiny_mmlu_stem", "tiny_mmlu_other"]
NOT_METRICS = {"alias", "name", "sample_len", "sample_count", " "}


@pytest.fixture(scope="module")
def lm_eval_results(tiny_series, lm_eval_include, one_thread) -> dict:
    """lm-eval's own results at step 10 (its HF model), as `lm_eval --limit 4` writes them."""
    from lm_eval.evaluator import evaluate
    from lm_eval.models.huggingface import HFLM

    model, tokenizer = load_model(tiny_series / "step000010", device="cpu")
    loaded = task_manager((str(lm_eval_include),)).load(NAMES)
    for task in loaded["tasks"].values():
        if task.get_config("num_fewshot") is None:
            task.set_config(key="num_fewshot", value=0)
        task.set_fewshot_seed(seed=1234)
    return evaluate(HFLM(pretrained=model, tokenizer=tokenizer, batch_size=3), loaded, limit=4,
                    bootstrap_iters=0)["results"]


@pytest.fixture(scope="module")
def store(tiny_series, lm_eval_include, tmp_path_factory, one_thread):
    from typer.testing import CliRunner

    from ckptlens.cli.app import app

    store = tmp_path_factory.mktemp("aggregates") / "store"
    tasks = ",".join(f"lm-eval:{n}" for n in NAMES)
    result = CliRunner().invoke(app, ["eval", str(tiny_series), "--tasks", tasks, "--include-path",
                                      str(lm_eval_include), "--limit", "4", "--steps", "10,20", "--store", str(store),
                                      "--device", "cpu"])
    assert result.exit_code == 0, result.output
    return store


def _metric_keys(results: dict, name: str) -> list[str]:
    return [k for k, v in results[name].items() if k not in NOT_METRICS and "_stderr" not in k
            and isinstance(v, float)]


def test_every_tasks_every_metric_and_filter_is_lm_evals_number(store, lm_eval_results, cli):
    checked = 0
    for task in LEAVES:
        for key in _metric_keys(lm_eval_results, task):
            code, out, err = cli("scores", "--store", store, "--metric", key, "--format", "json")
            assert code == 0, (key, err)
            row = next(r for r in json.loads(out) if r["task"] == task and r["step"] == 10)
            assert row["metric"] == key
            assert math.isclose(row["score"], lm_eval_results[task][key], rel_tol=1e-6), (task, key)
            checked += 1
    assert checked == 11  # lambada: perplexity, acc; wikitext: 3; gsm8k: exact_match x 2 filters; 4 x acc
    assert lm_eval_results["lambada_openai"]["perplexity,none"] > 1  # exp(-mean loglik), not the mean loglik


def test_every_group_and_subgroup_is_lm_evals_number(store, lm_eval_results, cli):
    code, out, err = cli("scores", "--store", store, "--by", "category", "--metric", "acc", "--format", "json")
    assert code == 0, err
    rows = {r["category"]: r for r in json.loads(out) if r["step"] == 10}
    for group in GROUPS:
        assert math.isclose(rows[group]["score"], lm_eval_results[group]["acc,none"], rel_tol=1e-6), group
    assert (rows["tiny_mmlu"]["n_tasks"], rows["tiny_mmlu"]["n_examples"]) == (4, 10)
    law, art = lm_eval_results["tiny_mmlu_law"]["acc,none"], lm_eval_results["tiny_mmlu_art"]["acc,none"]
    assert math.isclose(rows["tiny_mmlu_other"]["score"], (law + art) / 2)  # weight_by_size: false


def test_the_rolling_weights_are_lm_evals(store):
    from ckptlens.store import Store

    records = Store(store).read(tasks=["wikitext"]).to_pylist()
    page = "the red cat runs and the green dog sleeps . " * 3  # lm-eval counts the page before detokenising
    first = min(records, key=lambda r: int(r["example_id"]))
    info = {i["key"]: i for i in first["metric_info"]}
    assert first["n_bytes"] == len(page.encode()) == info["bits_per_byte"]["weight"]
    assert info["word_perplexity"]["aggregation"] == "weighted_perplexity"
    assert info["word_perplexity"]["higher_is_better"] is False


def test_a_bare_metric_is_the_first_filter_and_an_unknown_one_lists_the_tasks_metrics(store, cli):
    code, out, _ = cli("scores", "--store", store, "--metric", "exact_match", "--format", "json")
    bare = [r for r in json.loads(out) if r["task"] == "gsm8k"]
    code, out, _ = cli("scores", "--store", store, "--metric", "exact_match,strict-match", "--format", "json")
    assert [r for r in json.loads(out) if r["task"] == "gsm8k"] == bare
    assert bare[0]["metric"] == "exact_match,strict-match"
    for command in ("scores", "select"):
        code, _, err = cli(command, "--store", store, "--metric", "bogus_metric")
        assert code == 2 and "no per-example scores" not in err, err
        assert "'bogus_metric'" in err and "exact_match,flexible-extract" in err and "word_perplexity,none" in err


def test_stability_takes_lm_evals_task_score_and_a_perplexitys_examples_are_logliks_per_word(store, cli):
    from ckptlens.analysis.matrix import store_matrix
    from ckptlens.analysis.stability import StabilityConfig, stability_table
    from ckptlens.store import Store

    config = StabilityConfig(last=1.0, windows=(1,), bootstrap=0, metric="word_perplexity", adaptive=None)
    row = next(r for r in stability_table(Store(store), config) if r.task == "wikitext" and r.method == "raw")
    _, out, _ = cli("scores", "--store", store, "--metric", "word_perplexity", "--format", "json")
    curve = [r["score"] for r in json.loads(out) if r["task"] == "wikitext"]
    assert math.isclose(row.mean_score, sum(curve) / 2) and math.isclose(row.task_mtv, abs(curve[1] - curve[0]))
    assert row.chance is None and not row.near_chance and not row.is_score and row.flip_fraction is None
    matrix = store_matrix(Store(store), row.run, "wikitext", metric="word_perplexity")
    per_word = matrix.values / matrix.weights
    assert math.isclose(row.example_mtv, float(abs(per_word[:, 1] - per_word[:, 0]).mean()))
    assert not matrix.higher_is_better and (per_word < 0).all()
