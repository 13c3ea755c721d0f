"""lm-eval's own tasks built by its TaskManager: groups, --limit, --num-fewshot, the seed, and the errors."""

import inspect
import sys

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.tasks import lm_eval_index
from ckptlens.tasks.lm_eval_index import DEFAULT_FEWSHOT_SEED, LmEvalOptions, build_lm_eval_tasks, resolve_lm_eval


def _options(include, **kwargs) -> LmEvalOptions:
    return LmEvalOptions(include_paths=(str(include),), **kwargs)


def test_a_group_expands_to_its_tasks_with_the_group_as_category(lm_eval_include):
    tasks = build_lm_eval_tasks(["tiny_arc"], _options(lm_eval_include))
    assert sorted(t.name for t in tasks) == ["arc_challenge", "arc_easy"]
    assert {t.category for t in tasks} == {"tiny_arc"}
    easy = next(t for t in tasks if t.name == "arc_easy")
    assert easy.kind == "multiple_choice" and easy.lm_eval.version == "1.0"
    assert [e.id for e in easy.examples] == [str(i) for i in range(6)]
    assert easy.examples[0].context == "Question: what is one plus two ?\nAnswer:"  # arc_easy's own template, 0-shot
    assert easy.lm_eval.metric_names == ("acc", "acc_norm")


def test_limit_and_num_fewshot_override_the_yaml(lm_eval_include):
    own, = build_lm_eval_tasks(["gsm8k"], _options(lm_eval_include, limit=2))
    assert len(own.examples) == 2
    assert own.examples[0].context.count("Question:") == 6  # gsm8k's YAML says num_fewshot: 5
    two, = build_lm_eval_tasks(["gsm8k"], _options(lm_eval_include, limit=0.5, num_fewshot=2))
    assert len(two.examples) == 3  # a limit below 1 is a fraction of the documents, as in lm_eval
    assert two.examples[0].context.count("Question:") == 3
    assert own.kind == "generation" and own.lm_eval.metric_names == ("exact_match",)


def test_the_fewshot_seed_is_lm_evals_default_and_picks_the_demonstrations(lm_eval_include):
    from lm_eval.evaluator import simple_evaluate

    assert inspect.signature(simple_evaluate).parameters["fewshot_random_seed"].default == DEFAULT_FEWSHOT_SEED
    contexts = {seed: [e.context for e in build_lm_eval_tasks(
        ["arc_easy"], _options(lm_eval_include, num_fewshot=3, fewshot_seed=seed))[0].examples] for seed in (1234, 7)}
    again = [e.context for e in build_lm_eval_tasks(["arc_easy"], _options(lm_eval_include, num_fewshot=3))[0].examples]
    assert contexts[1234] == again
    assert contexts[1234] != contexts[7]


def test_other_specs_pass_through_and_lm_eval_ones_are_built(lm_eval_include):
    specs = resolve_lm_eval(["facts", "lm-eval:wikitext"], _options(lm_eval_include))
    assert specs[0] == "facts"
    assert specs[1].name == "wikitext" and specs[1].kind == "perplexity"


def test_an_unknown_name_lists_the_closest_lm_eval_names(lm_eval_include):
    with pytest.raises(CkptlensError, match=r"unknown lm-eval task 'arc_eazy'; closest lm-eval names: arc_easy"):
        build_lm_eval_tasks(["arc_eazy"], _options(lm_eval_include))


def test_a_dataset_not_on_this_machine_names_it_and_the_override(lm_eval_include):
    with pytest.raises(CkptlensError) as error:
        build_lm_eval_tasks(["mmlu_anatomy"], _options(lm_eval_include))
    message = str(error.value)
    assert "'cais/mmlu (anatomy)' is not available offline" in message
    assert "mmlu_anatomy.yaml" in message and "dataset_kwargs" in message and "\n" not in message


def test_a_chat_template_is_a_clear_error(lm_eval_include):
    with pytest.raises(CkptlensError, match="--apply-chat-template is not supported"):
        build_lm_eval_tasks(["arc_easy"], _options(lm_eval_include, apply_chat_template=True))


def test_without_lm_eval_installed_the_error_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "lm_eval.tasks", None)  # import lm_eval.tasks raises ImportError
    monkeypatch.setattr(lm_eval_index, "_MANAGERS", {})
    with pytest.raises(CkptlensError, match=r"pip install 'ckptlens\[lm-eval\]'"):
        build_lm_eval_tasks(["arc_easy"], LmEvalOptions(include_paths=(str(tmp_path),)))


def test_a_yaml_path_names_its_task(lm_eval_include):
    task, = resolve_lm_eval([f"lm-eval:{lm_eval_include / 'arc_challenge.yaml'}"], _options(lm_eval_include))
    assert task.name == "arc_challenge" and len(task.examples) == 3 and task.category == "lm-eval"


def test_limit_zero_negative_fewshot_and_a_broken_yaml_are_one_line_errors(lm_eval_include, tmp_path):
    for options, flag in (({"limit": 0}, "--limit 0:"), ({"limit": -0.5}, "--limit -0.5:"),
                          ({"num_fewshot": -1}, "--num-fewshot -1")):
        with pytest.raises(CkptlensError, match=flag):
            build_lm_eval_tasks(["arc_easy"], _options(lm_eval_include, **options))
    broken = tmp_path / "broken.yaml"
    broken.write_text("task: broken\ndataset_path: json\n  bad: [\n")
    with pytest.raises(CkptlensError, match=r"broken.yaml:3:6: not valid YAML \(mapping values"):
        resolve_lm_eval([f"lm-eval:{broken}"], _options(lm_eval_include))


def test_a_task_without_documents_after_process_docs_is_a_one_line_error(lm_eval_include, tmp_path):
    text = (lm_eval_include / "arc_easy.yaml").read_text().replace("task: arc_easy", "task: arc_none")
    (tmp_path / "arc_none.yaml").write_text(text + "process_docs: !function utils.none\n")
    (tmp_path / "utils.py").write_text("def none(dataset):\n    return dataset.filter(lambda doc: False)\n")
    with pytest.raises(CkptlensError, match="arc_none: a task has no documents"):
        build_lm_eval_tasks(["arc_none"], LmEvalOptions(include_paths=(str(lm_eval_include), str(tmp_path))))
