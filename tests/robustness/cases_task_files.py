"""Task files and their specs with a field mistyped, null, negative or non-finite: one line naming line and field."""

from __future__ import annotations

import json

from tests.robustness.helpers import write

EVAL = ["eval", "{series}", "--store", "{store}", "--run", "bad", "--device", "cpu", "--tasks", "{tmp}/t.jsonl"]
GOOD = {"id": "a", "context": "Q: the cat is ? A:", "choices": [" red", " blue"], "gold": 0}


def line(**change):
    row = {k: v for k, v in {**GOOD, **change}.items() if v is not ...}
    return lambda tmp, series: write(tmp / "t.jsonl", json.dumps(GOOD | {"id": "z"}) + "\n" + json.dumps(row) + "\n")


def spec(text: str):
    def setup(tmp, series):
        write(tmp / "t.jsonl", json.dumps(GOOD) + "\n")
        write(tmp / "t.yaml", text)

    return setup


CASES = [
    {"id": f"eval-task-line-{name}", "args": EVAL, "setup": setup, "exit_code": 2,
     "stderr_contains": ["{tmp}/t.jsonl:2: field " + field]}
    for name, setup, field in [
        ("gold-nan", line(gold=float("nan")), "gold"),
        ("gold-a-bool", line(gold=True), "gold"),
        ("gold-negative", line(gold=-1), "gold should be greater than or equal to 0"),
        ("id-null", line(id=None), "id"),
        ("context-a-number", line(context=3), "context"),
        ("choice-a-number", line(choices=[" red", 2]), "choices[1]"),
    ]
] + [
    {"id": f"eval-task-spec-{name}", "args": EVAL, "setup": spec(text), "exit_code": 2,
     "stderr_contains": ["{tmp}/t.yaml: field " + field]}
    for name, text, field in [
        ("max-new-tokens-a-word", "max_new_tokens: three\n", "max_new_tokens"),
        ("max-new-tokens-zero", "max_new_tokens: 0\n", "max_new_tokens"),
        ("stop-a-number", "stop: 3\n", "stop"),
    ]
]
