"""Task files, store folders and record files that ckptlens cannot use, and the ``records --out`` target."""

from __future__ import annotations

import json

from tests.robustness.helpers import write

EVAL = ["eval", "{series}", "--store", "{store}", "--run", "bad", "--device", "cpu", "--tasks"]
GOOD_LINE = json.dumps({"id": "a", "context": "Q: the cat is ? A:", "choices": [" red", " blue"], "gold": 0})


def task_file(name: str, content: str | bytes):
    return lambda tmp, series: write(tmp / name, content)


TASK_FILES = {
    "not-utf8": ("t.jsonl", GOOD_LINE.encode() + b"\n" + '{"id": "b", "context": "Caf\u00e9"}'.encode("latin-1"),
                 ["t.jsonl", "UTF-8"]),
    "not-json": ("t.jsonl", GOOD_LINE + "\n{not json}\n", ["t.jsonl:2"]),
    "gold-out-of-range": ("t.jsonl", json.dumps({"id": "a", "context": "Q:", "choices": [" a"], "gold": 3}) + "\n",
                          ["t.jsonl:1", "gold"]),
    "no-choices-no-target": ("t.jsonl", json.dumps({"id": "a", "context": "Q:"}) + "\n", ["t.jsonl:1"]),
    "empty-choices": ("t.jsonl", json.dumps({"id": "a", "context": "Q:", "choices": [], "gold": 0}) + "\n",
                      ["t.jsonl:1"]),
    "line-is-a-list": ("t.jsonl", "[1, 2]\n", ["t.jsonl:1"]),
    "empty-file": ("t.jsonl", "", ["t.jsonl"]),
    "duplicate-ids": ("t.jsonl", GOOD_LINE + "\n" + GOOD_LINE + "\n", ["t.jsonl", "'a'"]),
    "yaml-does-not-parse": ("t.yaml", "name: [unclosed\n", ["t.yaml"]),
    "yaml-not-a-mapping": ("t.yaml", "- a\n- b\n", ["t.yaml"]),
    "yaml-not-utf8": ("t.yaml", "name: caf\u00e9\n".encode("latin-1"), ["t.yaml"]),
    "yaml-neither-kind": ("t.yaml", "name: x\n", ["t.yaml"]),
    "txt-not-utf8": ("t.txt", "caf\u00e9 au lait\n".encode("latin-1"), ["t.txt", "UTF-8"]),
}

CASES = [
    {"id": f"eval-task-{name}", "args": [*EVAL, f"{{tmp}}/{file}"], "setup": task_file(file, content),
     "exit_code": 2, "stderr_contains": fragments}
    for name, (file, content, fragments) in TASK_FILES.items()
]

CASES += [
    {"id": "eval-task-file-missing", "args": [*EVAL, "{tmp}/none.jsonl"], "exit_code": 2,
     "stderr_contains": ["none.jsonl"]},
    {"id": "eval-task-unknown-name", "args": [*EVAL, "capital_choise"], "exit_code": 2,
     "stderr_contains": ["capital_choise"]},
    {"id": "eval-task-unknown-suffix", "args": [*EVAL, "{tmp}/t.csv"], "setup": task_file("t.csv", "a,b\n"),
     "exit_code": 2, "stderr_contains": ["t.csv"]},
]


def truncated_parquet(tmp, series):
    path = next((tmp / "store" / "records").rglob("*.parquet"))
    path.write_bytes(path.read_bytes()[:100])


def text_parquet(tmp, series):
    path = next((tmp / "store" / "records").rglob("*.parquet"))
    path.write_bytes(b"PAR1 hello")


def damaged(relative: str):
    """A record file of the store that is not Parquet (an interrupted copy, a disk error)."""
    return lambda tmp, series: write(tmp / "store" / relative, b"PAR1\x00\x01 cut short")


def run_info(text: str):
    return lambda tmp, series: write(tmp / "store" / "runs" / "tiny.json", text)


def store_is_a_file(tmp, series):
    write(tmp / "file-store", "not a folder")


def records_folder_is_a_file(tmp, series):
    write(tmp / "fresh" / "records", "not a folder")


STORE_READERS = {
    "stability": ["stability", "--store", "{store}", "--bootstrap", "0", "--last", "1"],
    "records": ["records", "--store", "{store}"],
    "select": ["select", "--store", "{store}", "--splits", "5", "--last", "1", "--window", "2"],
    "report": ["report", "--store", "{store}", "--out", "{tmp}/report", "--last", "1", "--windows", "2"],
    "compare": ["compare", "10", "20", "--store", "{store}", "--run", "tiny", "--task", "colors"],
}

CASES += [
    {"id": f"{command}-truncated-parquet", "args": args, "setup": truncated_parquet, "exit_code": 2,
     "stderr_contains": ["step0000", ".parquet"]}
    for command, args in STORE_READERS.items()
]
CASES += [
    {"id": f"{command}-parquet-that-is-text", "args": args, "setup": text_parquet, "exit_code": 2,
     "stderr_contains": [".parquet"]}
    for command, args in STORE_READERS.items() if command in ("stability", "records")
]
CASES += [
    {"id": f"{command}-store-is-a-file", "args": [a.replace("{store}", "{tmp}/file-store") for a in args],
     "setup": store_is_a_file, "exit_code": 2, "stderr_contains": ["file-store"]}
    for command, args in STORE_READERS.items()
]
CASES += [
    {"id": f"{command}-store-missing", "args": [a.replace("{store}", "{tmp}/nowhere") for a in args],
     "exit_code": 2, "stderr_contains": ["nowhere"]}
    for command, args in STORE_READERS.items()
]
CASES += [
    {"id": "stability-damaged-aggregates", "args": STORE_READERS["stability"],
     "setup": damaged("aggregates/imported/step1000.parquet"), "exit_code": 2,
     "stderr_contains": ["aggregates/imported/step1000.parquet", "damaged"]},
    {"id": "capabilities-damaged-aggregates", "args": ["capabilities", "--store", "{store}", "--out", "{tmp}/c"],
     "setup": damaged("aggregates/imported/step1000.parquet"), "exit_code": 2,
     "stderr_contains": ["aggregates/imported/step1000.parquet"]},
    {"id": "report-damaged-drift", "args": STORE_READERS["report"], "setup": damaged("drift/tiny.parquet"),
     "exit_code": 2, "stderr_contains": ["drift/tiny.parquet", "damaged"]},
    {"id": "stability-run-json-does-not-parse", "args": STORE_READERS["stability"], "setup": run_info('{"run": '),
     "exit_code": 2, "stderr_contains": ["runs/tiny.json"]},
    {"id": "report-run-json-does-not-parse", "args": STORE_READERS["report"], "setup": run_info("{{"),
     "exit_code": 2, "stderr_contains": ["runs/tiny.json"]},
    {"id": "stability-run-json-not-an-object", "args": STORE_READERS["stability"], "setup": run_info("[1]"),
     "exit_code": 2, "stderr_contains": ["runs/tiny.json"]},
    {"id": "eval-store-is-a-file",
     "args": ["eval", "{series}", "--store", "{tmp}/file-store", "--device", "cpu", "--tasks", "{task}"],
     "setup": store_is_a_file, "exit_code": 2, "stderr_contains": ["file-store"]},
    {"id": "eval-store-records-folder-is-a-file",
     "args": ["eval", "{series}", "--store", "{tmp}/fresh", "--device", "cpu", "--tasks", "{task}"],
     "setup": records_folder_is_a_file, "exit_code": 2, "stderr_contains": ["fresh/records"]},
    {"id": "records-out-is-a-folder", "args": ["records", "--store", "{store}", "--out", "{tmp}"],
     "exit_code": 2, "stderr_contains": ["--out", "{tmp}"]},
    {"id": "records-out-parent-is-a-file",
     "args": ["records", "--store", "{store}", "--out", "{tmp}/task.jsonl/r.jsonl"],
     "exit_code": 2, "stderr_contains": ["task.jsonl/r.jsonl"]},
    {"id": "records-unknown-format", "args": ["records", "--store", "{store}", "--format", "xml"],
     "exit_code": 2, "stderr_contains": ["--format"]},
    {"id": "report-out-is-a-file", "args": [*STORE_READERS["report"][:4], "--out", "{task}", "--last", "1"],
     "exit_code": 2, "stderr_contains": ["task.jsonl"]},
    {"id": "capabilities-out-is-a-file", "args": ["capabilities", "--store", "{store}", "--out", "{task}"],
     "exit_code": 2, "stderr_contains": ["task.jsonl"]},
    {"id": "compare-unknown-step", "args": ["compare", "10", "15", *STORE_READERS["compare"][3:]],
     "exit_code": 2, "stderr_contains": ["step 15"]},
    {"id": "compare-unknown-run", "args": ["compare", "10", "20", "--store", "{store}", "--run", "nope", "--task",
                                           "colors"], "exit_code": 2, "stderr_contains": ["'nope'"]},
    {"id": "compare-step-not-a-number", "args": ["compare", "ten", "20", *STORE_READERS["compare"][3:]],
     "exit_code": 2, "stderr_contains": ["step_a"]},
]
