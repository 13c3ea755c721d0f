"""llm-jp-eval datasets as tasks: the prompt, the options, the metrics and the category means."""

from __future__ import annotations

import json

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.tasks.llm_jp_eval import LlmJpEvalOptions, category_scores, load_llm_jp_eval
from ckptlens.tasks.resolve import resolve_tasks
from tests.tasks.llm_jp_eval_files import write_datasets

EXPECTED_JNLI_PROMPT = (
    "以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
    "### 指示:\n前提と仮説の関係をentailment、contradiction、neutralの中から回答してください。\n\n"
    "### 入力:\n前提:猫が寝ている。\n仮説:動物が寝ている。\n\n### 応答:\nentailment\n\n"
    "### 入力:\n前提:犬が走る。\n仮説:犬が寝ている。\n\n### 応答:\ncontradiction\n\n"
    "### 入力:\n前提:空が青い。\n仮説:今日は月曜日だ。\n\n### 応答:\n"
)


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    return write_datasets(tmp_path_factory.mktemp("llm_jp_eval"))


def test_prompt_is_llm_jp_eval_s(evaluation):
    (task,) = load_llm_jp_eval(f"llm-jp-eval:{evaluation}/jnli", LlmJpEvalOptions(num_fewshot=2))
    assert task.examples[0].context == EXPECTED_JNLI_PROMPT
    assert task.examples[0].target == "neutral"
    assert (task.kind, task.max_new_tokens, task.category) == ("generation", 3, "NLI")
    assert (task.answer_rule, task.version, task.metrics) == ("llm-jp-eval", "llm-jp-eval v1.4.1", ("exact_match",))


def test_a_folder_gives_every_dataset_with_its_category_metric(evaluation):
    tasks = {t.name: t for t in resolve_tasks([f"llm-jp-eval:{evaluation}"])}
    assert sorted(tasks) == ["chabsa", "jnli", "jsquad"]
    assert tasks["jsquad"].metrics == ("char_f1",) and tasks["chabsa"].metrics == ("set_f1",)
    assert tasks["chabsa"].category == "EL" and tasks["jsquad"].examples[2].target == "札幌"  # gold NFKC


def test_split_limit_and_zero_shots(evaluation):
    (test,) = load_llm_jp_eval(f"llm-jp-eval:{evaluation}/jsquad", LlmJpEvalOptions(split="test", num_fewshot=0))
    assert len(test.examples) == 1 and "### 応答:\n東京" not in test.examples[0].context
    (dev,) = load_llm_jp_eval(f"llm-jp-eval:{evaluation}/jsquad", LlmJpEvalOptions(limit=2))
    assert [e.id for e in dev.examples] == ["0", "1"]


def test_mistakes_are_one_line_errors(evaluation, tmp_path):
    with pytest.raises(CkptlensError, match="lower --num-fewshot"):
        load_llm_jp_eval(f"llm-jp-eval:{evaluation}/jnli", LlmJpEvalOptions(num_fewshot=5))
    with pytest.raises(CkptlensError, match="no dev/NAME.json"):
        load_llm_jp_eval(f"llm-jp-eval:{tmp_path}")
    with pytest.raises(CkptlensError, match="--split"):
        LlmJpEvalOptions(split="train")
    (tmp_path / "dev").mkdir()
    (tmp_path / "dev" / "x.json").write_text(json.dumps({"samples": []}))
    with pytest.raises(CkptlensError, match="missing"):
        load_llm_jp_eval(f"llm-jp-eval:{tmp_path}/x")


def test_mt_falls_back_to_bleu_with_a_warning(tmp_path):
    data = {"instruction": "翻訳せよ。", "output_length": 8, "metrics": ["bleu_ja", "comet_wmt22"], "samples": [
        {"input": "Tokyo", "output": "東京"}]}
    for split in ("train", "dev"):
        (tmp_path / split).mkdir()
        (tmp_path / split / "alt-e-to-j.json").write_text(json.dumps(data, ensure_ascii=False))
    with pytest.warns(UserWarning, match="COMET"):
        (task,) = load_llm_jp_eval(f"llm-jp-eval:{tmp_path}/alt-e-to-j", LlmJpEvalOptions(num_fewshot=1))
    assert task.metrics == ("bleu_ja",) and task.category == "MT"


def test_category_means_are_unweighted_and_leave_jsts_out():
    categories, overall = category_scores(
        {"jnli": 0.4, "janli": 0.6, "jamp": 0.8, "jsquad": 0.9, "chabsa": 0.3, "jsts": 0.99, "mine": 0.0}
    )
    assert categories == pytest.approx({"NLI": 0.6, "RC": 0.9, "EL": 0.3})
    assert overall == pytest.approx((0.6 + 0.9 + 0.3) / 3)
