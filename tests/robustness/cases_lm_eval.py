"""lm-eval task inputs ckptlens cannot run: a YAML that does not parse, a --limit or --num-fewshot out of range,
a task whose ``process_docs`` keeps no document. Each is one line naming the file (and line) or the flag."""

from __future__ import annotations

from tests.lm_eval_local import write_include_path
from tests.robustness.helpers import write

EVAL = ["eval", "{series}", "--store", "{store}", "--run", "bad", "--device", "cpu"]


def include_path_without_documents(tmp, series):
    """arc_easy on local data, its ``process_docs`` keeping no document."""
    folder = write_include_path(tmp, n_docs=2)
    original = (folder / "arc_easy.yaml").read_text().replace("task: arc_easy", "task: arc_none")
    write(tmp / "none" / "arc_none.yaml", original + "process_docs: !function utils.none\n")
    write(tmp / "none" / "utils.py", "def none(dataset):\n    return dataset.filter(lambda doc: False)\n")


YAMLS = {  # case: (YAML text, what the line names)
    "yaml-bad-indentation": ("task: broken\ndataset_path: json\n  bad: [\n", "broken.yaml:3:6: not valid YAML"),
    "yaml-unclosed-list": ("task: broken\ndoc_to_choice: [a, b\n", "broken.yaml:3:1: not valid YAML"),
    "yaml-tab-indentation": ("task: broken\n\tdataset_path: json\n", "broken.yaml:2:1: not valid YAML"),
}
CASES = [
    {"id": f"eval-lm-eval-{name}", "args": [*EVAL, "--tasks", "lm-eval:{tmp}/broken.yaml"],
     "setup": lambda tmp, series, text=text: write(tmp / "broken.yaml", text), "exit_code": 2,
     "stderr_contains": ["{tmp}/" + where]}
    for name, (text, where) in YAMLS.items()
]
CASES += [
    {"id": f"eval-lm-eval-{name}", "args": [*EVAL, "--tasks", "lm-eval:arc_easy", *flags], "exit_code": 2,
     "stderr_contains": [named]}
    for name, flags, named in [
        ("limit-zero", ["--limit", "0"], "--limit 0:"),
        ("limit-negative", ["--limit", "-2"], "--limit -2:"),
        ("limit-nan", ["--limit", "nan"], "--limit nan:"),
        ("num-fewshot-negative", ["--num-fewshot", "-1"], "--num-fewshot -1"),
    ]
]
CASES += [
    {"id": "eval-lm-eval-process-docs-keeps-nothing",
     "args": [*EVAL, "--tasks", "lm-eval:arc_none", "--include-path", "{tmp}/none"],
     "setup": include_path_without_documents, "exit_code": 2,
     "stderr_contains": ["arc_none", "no documents", "process_docs"]},
]
