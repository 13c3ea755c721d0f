"""lm-eval outputs the importer cannot read: refused before anything is written to the store."""

from __future__ import annotations

import json

from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format, write_old_format
from tests.robustness.helpers import write

IMPORT = ["import", "lm-eval", "{tmp}/lm", "--store", "{store}"]


def new_format(tmp):
    samples = [ChoiceSample(i, f"q{i}", ["a", "b"], i % 2, [-1.0, -2.0]) for i in range(3)]
    return write_new_format(tmp / "lm", Checkpoint("step1000", {"toy": samples}))


def results_file(tmp):
    return next(new_format(tmp).glob("results_*.json"))


def samples_file(tmp):
    return next(new_format(tmp).glob("samples_*.jsonl"))


def replace_results(text: str | bytes):
    return lambda tmp, series: write(results_file(tmp), text)


def edit_results(change):
    def setup(tmp, series):
        path = results_file(tmp)
        data = json.loads(path.read_text())
        change(data)
        path.write_text(json.dumps(data))

    return setup


def replace_samples(text: str | bytes):
    return lambda tmp, series: write(samples_file(tmp), text)


def edit_sample(change):
    def setup(tmp, series):
        path = samples_file(tmp)
        lines = [json.loads(line) for line in path.read_text().splitlines()]
        change(lines[1])
        path.write_text("".join(json.dumps(line) + "\n" for line in lines))

    return setup


def pythia(results: object, model_args: str = "pretrained=EleutherAI/pythia-70m,revision=step1000"):
    def setup(tmp, series):
        path = write_old_format(tmp / "lm" / "pythia.json", "step1000", {"lambada": {"acc": 0.5}})
        data = json.loads(path.read_text())
        data["results"] = results
        data["config"]["model_args"] = model_args
        path.write_text(json.dumps(data))

    return setup


CASES = [
    {"id": f"import-{name}", "args": IMPORT, "setup": setup, "exit_code": 2, "stderr_contains": fragments}
    for name, setup, fragments in [
        ("results-not-json", replace_results('{"results": {'), ["results_"]),
        ("results-not-utf8", replace_results('{"results": "caf\u00e9"}'.encode("latin-1")), ["results_"]),
        ("results-a-list", replace_results("[1, 2]"), ["results_"]),
        ("results-without-results", edit_results(lambda d: d.pop("results")), ["results_", "'results'"]),
        ("results-task-not-a-mapping", edit_results(lambda d: d["results"].update(toy=[0.5])), ["results_", "toy"]),
        ("samples-not-json", replace_samples("{\n"), ["samples_toy"]),
        ("samples-not-utf8", replace_samples('{"doc_id": "caf\u00e9"}\n'.encode("latin-1")), ["samples_toy", "UTF-8"]),
        ("samples-line-a-list", replace_samples("[1]\n"), ["samples_toy"]),
        ("samples-without-doc-id", edit_sample(lambda s: s.pop("doc_id")), ["samples_toy", ":2"]),
        ("samples-resps-not-a-list", edit_sample(lambda s: s.update(resps="oops", filtered_resps="oops")),
         ["samples_toy", ":2"]),
        ("samples-loglik-not-a-number", edit_sample(lambda s: s.update(filtered_resps=[["high", "False"]] * 2)),
         ["samples_toy", ":2"]),
        ("results-score-nan", edit_results(lambda d: d["results"]["toy"].update({"acc,none": float("nan")})),
         ["results_", "field results.toy.acc,none should be a finite number"]),
        ("results-score-infinite", edit_results(lambda d: d["results"]["toy"].update({"acc,none": float("inf")})),
         ["results_", "field results.toy.acc,none"]),
        ("samples-loglik-nan", edit_sample(lambda s: s.update(filtered_resps=[["NaN", "False"]] * 2)),
         ["samples_toy"]),
        ("pythia-score-nan", pythia({"lambada": {"acc": float("nan")}}), ["pythia.json", "results.lambada.acc"]),
        ("pythia-results-a-list", pythia([0.5]), ["pythia.json"]),
        ("pythia-task-a-number", pythia({"lambada": 0.5}), ["pythia.json", "lambada"]),
        ("pythia-without-revision", pythia({"lambada": {"acc": 0.5}}, "pretrained=EleutherAI/pythia-70m"),
         ["pythia.json", "--step-from"]),
    ]
]
CASES += [
    {"id": "import-path-missing", "args": ["import", "lm-eval", "{tmp}/nowhere", "--store", "{store}"],
     "exit_code": 2, "stderr_contains": ["nowhere"]},
    {"id": "import-folder-without-results", "args": IMPORT, "setup": lambda tmp, series: (tmp / "lm").mkdir(),
     "exit_code": 2, "stderr_contains": ["{tmp}/lm"]},
    {"id": "import-step-from-bad-regex", "args": [*IMPORT, "--step-from", "step(\\d+"],
     "setup": lambda tmp, series: new_format(tmp), "exit_code": 2, "stderr_contains": ["--step-from"]},
    {"id": "import-step-from-without-group", "args": [*IMPORT, "--step-from", "step\\d+"],
     "setup": lambda tmp, series: new_format(tmp), "exit_code": 2, "stderr_contains": ["--step-from"]},
    {"id": "import-store-is-a-file", "args": ["import", "lm-eval", "{tmp}/lm", "--store", "{task}"],
     "setup": lambda tmp, series: new_format(tmp), "exit_code": 2, "stderr_contains": ["task.jsonl"]},
]
