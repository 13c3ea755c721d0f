"""llm-jp-eval datasets and result files with a field mistyped, missing, null, negative or non-finite.

Each is refused when the file is read, in one line naming the file and the field (and the sample), before a
model is loaded or a record written. The dataset cases edit ``dev/jnli.json`` (or ``train/jnli.json``, the
demonstrations); the result cases edit one result file of a valid import.
"""

from __future__ import annotations

import json

from tests.tasks.llm_jp_eval_files import write_datasets

NAN, INF = float("nan"), float("inf")
MISSING = object()
EVAL = ["eval", "{series}", "--store", "{store}", "--run", "bad", "--device", "cpu",
        "--tasks", "llm-jp-eval:{tmp}/evaluation/jnli"]
IMPORT = ["import", "llm-jp-eval", "{tmp}/r/iter_0000100.json", "--store", "{store}"]


def put(data: dict, path: tuple, value) -> None:
    """Set (or, with ``MISSING``, delete) the field at ``path`` of nested dicts and lists."""
    *parents, last = path
    for key in parents:
        data = data[key]
    if value is MISSING:
        del data[last]
    else:
        data[last] = value


def dataset(path: tuple, value, split: str = "dev"):
    def setup(tmp, series):
        file = write_datasets(tmp) / split / "jnli.json"
        data = json.loads(file.read_text(encoding="utf-8"))
        put(data, path, value)
        file.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")  # NaN is written as NaN

    return setup


def write_result(tmp, change=lambda data: None) -> None:
    """A valid llm-jp-eval result file of step 100, as ``tmp/r/iter_0000100.json``, after ``change(data)``."""
    data = {"config": {"model": {"pretrained_model_name_or_path": "/ckpt/llm-jp/iter_0000100"}},
            "scores": {"jemhopqa_char_f1": 0.5, "AVG": 0.5},
            "outputs": {"jemhopqa": [{"input": "q1", "pred": "東京", "gold": "東京"},
                                     {"input": "q2", "pred": "大阪", "gold": "京都"}]}}
    change(data)
    (tmp / "r").mkdir()
    (tmp / "r" / "iter_0000100.json").write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


def result(path: tuple, value):
    return lambda tmp, series: write_result(tmp, lambda data: put(data, path, value))


DATASET_FIELDS = {  # case name: (field path, value, the field as the error names it)
    "instruction-null": (("instruction",), None, "field instruction"),
    "instruction-missing": (("instruction",), MISSING, "field instruction is missing"),
    "instruction-a-number": (("instruction",), 3, "field instruction"),
    "output-length-a-word": (("output_length",), "three", "field output_length"),
    "output-length-negative": (("output_length",), -1, "field output_length"),
    "output-length-zero": (("output_length",), 0, "field output_length"),
    "output-length-nan": (("output_length",), NAN, "field output_length"),
    "output-length-infinite": (("output_length",), INF, "field output_length"),
    "output-length-fraction": (("output_length",), 2.5, "field output_length"),
    "output-length-null": (("output_length",), None, "field output_length"),
    "output-length-missing": (("output_length",), MISSING, "field output_length is missing"),
    "metrics-a-string": (("metrics",), "exact_match", "field metrics"),
    "metrics-holds-a-number": (("metrics",), [1], "field metrics[0]"),
    "metrics-null": (("metrics",), None, "field metrics"),
    "metrics-missing": (("metrics",), MISSING, "field metrics is missing"),
    "samples-missing": (("samples",), MISSING, "field samples is missing"),
    "samples-null": (("samples",), None, "field samples"),
    "samples-a-mapping": (("samples",), {"input": "a"}, "field samples"),
    "sample-input-a-number": (("samples", 1, "input"), 7, "field samples[1].input"),
    "sample-input-null": (("samples", 1, "input"), None, "field samples[1].input"),
    "sample-input-missing": (("samples", 1, "input"), MISSING, "field samples[1].input is missing"),
    "sample-output-a-number": (("samples", 1, "output"), 3, "field samples[1].output"),
    "sample-output-null": (("samples", 1, "output"), None, "field samples[1].output"),
    "sample-output-missing": (("samples", 1, "output"), MISSING, "field samples[1].output is missing"),
    "sample-a-string": (("samples", 0), "entailment", "field samples[0]"),
}

RESULT_FIELDS = {
    "score-nan": (("scores", "jemhopqa_char_f1"), NAN, "field scores.jemhopqa_char_f1"),
    "score-infinite": (("scores", "AVG"), INF, "field scores.AVG"),
    "score-minus-infinite": (("scores", "AVG"), -INF, "field scores.AVG"),
    "score-a-string": (("scores", "jemhopqa_char_f1"), "0.5", "field scores.jemhopqa_char_f1"),
    "score-null": (("scores", "AVG"), None, "field scores.AVG"),
    "pred-a-number": (("outputs", "jemhopqa", 1, "pred"), 3, "field outputs.jemhopqa[1].pred"),
    "pred-null": (("outputs", "jemhopqa", 1, "pred"), None, "field outputs.jemhopqa[1].pred"),
    "pred-missing": (("outputs", "jemhopqa", 1, "pred"), MISSING, "field outputs.jemhopqa[1].pred is missing"),
    "gold-a-number": (("outputs", "jemhopqa", 0, "gold"), 12, "field outputs.jemhopqa[0].gold"),
    "gold-missing": (("outputs", "jemhopqa", 0, "gold"), MISSING, "field outputs.jemhopqa[0].gold is missing"),
    "input-a-number": (("outputs", "jemhopqa", 0, "input"), 1, "field outputs.jemhopqa[0].input"),
    "outputs-not-a-list": (("outputs", "jemhopqa"), {"pred": "a"}, "field outputs.jemhopqa"),
    "model-name-a-number": (("config", "model", "pretrained_model_name_or_path"), 100,
                            "field config.model.pretrained_model_name_or_path"),
    "config-model-a-string": (("config", "model"), "llm-jp", "field config.model"),
}

CASES = [
    {"id": f"llm-jp-eval-dataset-{name}", "args": EVAL, "setup": dataset(path, value), "exit_code": 2,
     "stderr_contains": ["{tmp}/evaluation/dev/jnli.json: " + field]}
    for name, (path, value, field) in DATASET_FIELDS.items()
]
CASES += [
    {"id": "llm-jp-eval-demonstration-output-a-number", "args": EVAL,
     "setup": dataset(("samples", 0, "output"), 1, split="train"), "exit_code": 2,
     "stderr_contains": ["{tmp}/evaluation/train/jnli.json: field samples[0].output"]},
]
CASES += [
    {"id": f"import-llm-jp-eval-{name}", "args": IMPORT, "setup": result(path, value), "exit_code": 2,
     "stderr_contains": ["{tmp}/r/iter_0000100.json: " + field]}
    for name, (path, value, field) in RESULT_FIELDS.items()
]
