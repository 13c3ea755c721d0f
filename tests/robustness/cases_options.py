"""Command-line values that mean nothing: each is refused in one line naming the flag, before any work."""

from __future__ import annotations

from tests.robustness.helpers import write

EVAL = ["eval", "{series}", "--tasks", "{task}", "--store", "{store}", "--run", "bad"]
STABILITY = ["stability", "--store", "{store}", "--bootstrap", "0", "--last", "1"]
AVERAGE = ["average", "{series}", "--out", "{tmp}/avg"]
REPORT = ["report", "--store", "{store}", "--out", "{tmp}/r", "--last", "1"]


def flag(command: str, args: list[str], extra: list[str], fragment: str | list[str], setup=None, name=None) -> dict:
    label = name or "-".join(a.lstrip("-") for a in extra).replace("/", "").replace("%", "pct")
    case = {"id": f"{command}-{label}", "args": [*args, *extra], "exit_code": 2,
            "stderr_contains": fragment if isinstance(fragment, list) else [fragment]}
    if setup is not None:
        case["setup"] = setup
    return case


def categories(text: str | bytes):
    return lambda tmp, series: write(tmp / "cats.yaml", text)


CASES = [
    flag("stability", STABILITY, ["--bootstrap", "-1"], "--bootstrap"),
    flag("stability", STABILITY, ["--bootstrap", "many"], "--bootstrap"),
    flag("stability", STABILITY, ["--last", "0"], "--last"),
    flag("stability", STABILITY, ["--last", "150%"], "--last"),
    flag("stability", STABILITY, ["--last", "abc"], "--last"),
    flag("stability", STABILITY, ["--last", "-0.2"], "--last"),
    flag("stability", STABILITY, ["--windows", "a,b"], "--windows"),
    flag("stability", STABILITY, ["--windows", ","], "--windows"),
    flag("stability", STABILITY, ["--windows", "-2"], "--windows"),
    flag("stability", STABILITY, ["--rules", "median"], "'median'"),
    flag("stability", STABILITY, ["--rules", ","], "ensemble rule"),
    flag("stability", STABILITY, ["--format", "xml"], "--format"),
    flag("stability", STABILITY, ["--by", "colour"], "--by"),
    flag("stability", STABILITY, ["--adaptive", "always"], "--adaptive"),
    flag("stability", STABILITY, ["--categories", "{tmp}/none.yaml"], "none.yaml"),
    flag("stability", STABILITY, ["--categories", "{tmp}/cats.yaml"], "cats.yaml", categories("a: [unclosed\n"),
         name="categories-bad-yaml"),
    flag("stability", STABILITY, ["--categories", "{tmp}/cats.yaml"], "cats.yaml", categories("- a\n"),
         name="categories-not-a-mapping"),
    flag("stability", STABILITY, ["--categories", "{tmp}/cats.yaml"], ["cats.yaml", "UTF-8"],
         categories("caf\u00e9: [x]\n".encode("latin-1")), name="categories-not-utf8"),
    flag("stability", STABILITY, ["--unknown-flag"], "--unknown-flag"),
    flag("select", ["select", "--store", "{store}", "--splits", "5", "--window", "2"], ["--last", "20%%"], "--last",
         name="last-two-percent-signs"),
    flag("select", ["select", "--store", "{store}", "--splits", "5"], ["--window", "two"], "--window"),
    flag("report", REPORT, ["--windows", "x"], "--windows"),
    flag("report", REPORT, ["--rules", "x"], "'x'"),
    flag("report", ["report", "--store", "{store}", "--out", "{tmp}/r"], ["--last", "0%"], "--last"),
    flag("capabilities", ["capabilities", "--store", "{store}", "--out", "{tmp}/c"], ["--align", "time"], "--align"),
    flag("capabilities", ["capabilities", "--store", "{store}", "--out", "{tmp}/c"], ["--categories", "{tmp}/c.yaml"],
         "c.yaml"),
    flag("linearity", ["linearity", "--store", "{store}"], ["--last", "2"], "--last"),
    flag("linearity", ["linearity"], ["--store", "{tmp}/nowhere"], "nowhere"),
    flag("eval", EVAL, ["--batch-size", "0"], "--batch-size"),
    flag("eval", EVAL, ["--dtype", "float8"], "--dtype"),
    flag("eval", EVAL, ["--device", "gpu"], "--device 'gpu'"),
    flag("eval", EVAL, ["--steps", "a:b"], "--steps"),
    flag("eval", EVAL, ["--last", "0"], "--last"),
    flag("eval", EVAL, ["--shard-size", "0"], "--shard-size"),
    flag("eval", EVAL, ["--executor", "ray", "--watch"], "--watch"),
    flag("eval", EVAL, ["--address", "auto"], "--address"),
    flag("eval", EVAL, ["--watch", "--steps", "10"], "--watch"),
    flag("eval", EVAL, ["--report", "{tmp}/r"], "--report"),
    flag("eval", EVAL, ["--executor", "ray", "--average-window", "2"], "--average-window"),
    flag("eval", ["eval", "{series}", "--tasks", "{task}", "--store", "{store}"], ["--run", "a/b"], "'a/b'"),
    flag("eval", ["eval", "{tmp}/nowhere", "--tasks", "{task}", "--store", "{store}"], [], "nowhere",
         name="series-missing"),
    flag("eval", ["eval", "{task}", "--tasks", "{task}", "--store", "{store}"], [], "task.jsonl",
         name="series-is-a-file"),
    flag("eval", ["eval", "{tmp}/empty", "--tasks", "{task}", "--store", "{store}"], [], "empty",
         lambda tmp, series: (tmp / "empty").mkdir(), name="series-empty"),
    flag("eval", ["eval", "hf://pythia-70m", "--tasks", "{task}", "--store", "{store}"], [], "hf://org/name",
         name="hub-spec-without-org"),
    flag("average", AVERAGE, ["--window", "5"], "window of 5"),
    flag("average", AVERAGE, ["--window", "2", "--ema", "0.5"], "--ema"),
    flag("average", AVERAGE, ["--ema", "1.5"], "--ema"),
    flag("average", AVERAGE, ["--window", "2", "--stride", "0"], "--stride"),
    flag("average", AVERAGE, ["--window", "2", "--steps", "x"], "--steps"),
    flag("average", AVERAGE, ["--window", "2", "--dtype", "int8"], "--dtype"),
    flag("average", AVERAGE, ["--window", "2", "--last", "20 percent"], "--last"),
    flag("average", ["average", "{series}/step000010", "{tmp}/nowhere", "--out", "{tmp}/avg"], [], "nowhere",
         name="listed-folder-missing"),
    flag("average", ["average", "{series}/step000010", "--out", "{tmp}/avg"], [], "several checkpoint folders",
         name="one-listed-folder"),
    flag("drift", ["drift", "{tmp}/nowhere"], [], "nowhere", name="series-missing"),
    flag("drift", ["drift", "{series}"], ["--store", "{tmp}/other"], "--run",
         lambda tmp, series: (tmp / "other").mkdir(), name="store-without-the-run"),
    flag("interpolate", ["interpolate", "{tmp}/a", "{series}/step000020", "--tasks", "{task}"], [], "{tmp}/a",
         name="first-missing"),
    flag("interpolate", ["interpolate", "{series}/step000010", "{series}/step000020", "--tasks", "{task}"],
         ["--points", "1"], "--points"),
    flag("interpolate", ["interpolate", "{series}/step000010", "{series}/step000020"],
         ["--tasks", "{tmp}/none.jsonl"], "none.jsonl", name="task-missing"),
    flag("compare", ["compare", "10", "20", "--store", "{store}", "--task", "colors"], ["--run", "nope"], "'nope'",
         name="run-not-in-store"),
    flag("frobnicate", ["frobnicate"], [], "frobnicate", name="unknown-command"),
]
