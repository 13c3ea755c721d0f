"""Templated specs and lm-eval task YAMLs render to the prompts lm-eval would build."""

import json

import pytest
import yaml

from ckptlens.errors import CkptlensError
from ckptlens.tasks.resolve import resolve_tasks
from ckptlens.tasks.task_file import load_task

DOCS = [
    {"q": "red", "options": ["blue", "green dog"], "label": 1},
    {"q": "cat", "options": ["dog", "bird"], "label": "bird"},
    {"q": "one", "options": ["two", "three"], "label": 0},
]


def _write(folder, name, rows):
    with (folder / name).open("w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)


def _lm_eval_yaml(folder, **overrides):
    _write(folder, "train.jsonl", DOCS[:2])
    _write(folder, "test.jsonl", DOCS)
    spec = {
        "task": "colours",
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"train": "train.jsonl", "test": "test.jsonl"}},
        "test_split": "test",
        "fewshot_split": "train",
        "output_type": "multiple_choice",
        "doc_to_text": "Q: {{q}}?\nA:",
        "doc_to_choice": "{{options}}",
        "doc_to_target": "label",
        "num_fewshot": 2,
        "fewshot_config": {"sampler": "first_n"},
        "metric_list": [{"metric": "acc"}],
        **overrides,
    }
    path = folder / "colours.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_lm_eval_yaml_builds_lm_eval_prompts(tmp_path):
    task = load_task(_lm_eval_yaml(tmp_path))
    shots = "Q: red?\nA: green dog\n\nQ: cat?\nA: bird\n\n"
    assert task.name == "colours" and task.kind == "multiple_choice"
    assert [e.id for e in task.examples] == ["0", "1", "2"]
    assert task.examples[2].context == shots + "Q: one?\nA:"
    assert task.examples[2].choices == (" two", " three")
    assert [e.gold for e in task.examples] == [1, 1, 0]


def test_fewshot_from_the_test_split_skips_the_document_itself(tmp_path):
    task = load_task(_lm_eval_yaml(tmp_path, fewshot_split="test", num_fewshot=1))
    assert task.examples[0].context.startswith("Q: cat?\nA: bird\n\n")
    assert task.examples[1].context.startswith("Q: red?\nA: green dog\n\n")


def test_delimiters_and_description(tmp_path):
    task = load_task(_lm_eval_yaml(tmp_path, target_delimiter=":", fewshot_delimiter="|", description="Quiz. "))
    assert task.examples[0].context == "Quiz. Q: red?\nA::green dog|Q: cat?\nA::bird|Q: red?\nA:"
    assert task.examples[0].choices == (":blue", ":green dog")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"fewshot_config": {"sampler": "default"}}, "sampler: first_n"),
        ({"dataset_path": "allenai/ai2_arc"}, "is not local"),
        ({"process_docs": "x"}, "'process_docs' is not supported"),
        ({"test_split": "validation"}, "test split 'validation'"),
        ({"num_fewshot": 5}, "asks for 5 demonstrations"),
        ({"doc_to_target": "{{missing}}"}, "fails on a document"),
    ],
)
def test_lm_eval_yaml_errors_are_one_line(tmp_path, overrides, message):
    with pytest.raises(CkptlensError, match=message) as err:
        load_task(_lm_eval_yaml(tmp_path, **overrides))
    assert "\n" not in str(err.value)


def test_python_hooks_are_refused(tmp_path):
    path = _lm_eval_yaml(tmp_path)
    path.write_text(path.read_text() + "process_results: !function utils.process\n")
    with pytest.raises(CkptlensError, match="!function"):
        load_task(path)


def test_template_spec_matches_the_lm_eval_yaml(tmp_path):
    _write(tmp_path, "docs.jsonl", DOCS)
    _write(tmp_path, "shots.jsonl", DOCS[:2])
    spec = {
        "name": "colours",
        "category": "colours",
        "data": "docs.jsonl",
        "prompt": "Q: {{q}}?\nA:",
        "choices": "options",
        "answer": "{{label}}",
        "demonstrations": 2,
        "demonstrations_data": "shots.jsonl",
        "id": "doc-{{q}}",
    }
    (tmp_path / "template.yaml").write_text(yaml.safe_dump(spec))
    ours = load_task(tmp_path / "template.yaml")
    theirs = load_task(_lm_eval_yaml(tmp_path))
    assert [(e.context, e.choices, e.gold) for e in ours.examples] == [
        (e.context, e.choices, e.gold) for e in theirs.examples
    ]
    assert ours.category == "colours" and ours.examples[0].id == "doc-red"
    assert len(ours.demonstrations) == 2


def test_generation_template(tmp_path):
    _write(tmp_path, "sums.jsonl", [{"a": 1, "b": 2, "sum": 3}])
    spec = {"kind": "generation", "data": "sums.jsonl", "prompt": "{{a}} + {{b}} =", "answer": "{{sum}}",
            "demonstrations": [{"a": 2, "b": 2, "sum": 4}], "stop": ["."]}  # fmt: skip
    (tmp_path / "sums.yaml").write_text(yaml.safe_dump(spec))
    task = load_task(tmp_path / "sums.yaml")
    assert task.kind == "generation" and task.stop == (".",)
    assert task.examples[0].context == "2 + 2 = 4\n\n1 + 2 =" and task.examples[0].target == "3"


def test_resolve_tasks_accepts_yaml(tmp_path):
    assert resolve_tasks([str(_lm_eval_yaml(tmp_path))])[0].name == "colours"
