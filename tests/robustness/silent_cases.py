"""Malformed inputs that once gave silently wrong results: each now exits 2 with one line naming the file or flag.

Each case is a plain dict: ``id``; ``args``, the command line after ``ckptlens``, whose
``{tmp}`` and ``{series}`` are replaced by the test's ``tmp_path`` and its copy of the
tiny series; ``setup(tmp_path, series)``, which prepares the inputs (the series copy is
the case's own, so it may be damaged); ``exit_code``; ``stderr_contains``, a fragment the
one stderr line must hold. The store a case writes to, when any, is ``{tmp}/store``: its
record files must be unchanged by the command.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.cli.conftest import write_mc_task
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format
from tests.robustness.helpers_trust_a import edit_task, poison

_EVALUATED: dict[Path, Path] = {}  # tiny series -> a store holding it evaluated on facts.jsonl (built once)


def nothing(tmp: Path, series: Path) -> None:
    """Only the series copy is needed."""


def task(tmp: Path, series: Path) -> None:
    write_mc_task(tmp / "facts.jsonl", n=4)


def evaluated(tmp: Path, series: Path) -> None:
    """``tmp/store``: the series evaluated on ``tmp/facts.jsonl`` as run 'series' (copied from a cache)."""
    from ckptlens.evaluation.evaluate import evaluate
    from ckptlens.evaluation.runner import EvalConfig
    from ckptlens.store import Store

    if series.name not in {p.name for p in _EVALUATED}:
        cache = Path(tempfile.mkdtemp(prefix="ckptlens-cases-"))
        shutil.copytree(series, cache / series.name)
        write_mc_task(cache / "facts.jsonl", n=4)
        evaluate(cache / series.name, [str(cache / "facts.jsonl")], Store(cache / "store"), config=EvalConfig(8))
        _EVALUATED[series] = cache
    cache = next(c for s, c in _EVALUATED.items() if s.name == series.name)
    shutil.copytree(cache / "store", tmp / "store")
    shutil.copy(cache / "facts.jsonl", tmp / "facts.jsonl")
    info = tmp / "store" / "runs" / "series.json"  # the run is the case's own series copy
    info.write_text(json.dumps({**json.loads(info.read_text()), "series": str(series.resolve())}))


def unit(tmp: Path, checkpoint: str = "step000020") -> Path:
    return next((tmp / "store" / "records").iterdir()) / "facts" / f"{checkpoint}.parquet"


def nan_weights(tmp: Path, series: Path) -> None:
    """The first checkpoint: eval stops before any unit is stored (earlier good checkpoints' units would be kept)."""
    task(tmp, series)
    poison(series / "step000010")


def inf_weights(tmp: Path, series: Path) -> None:
    task(tmp, series)
    poison(series / "step000010", float("inf"))


def no_config(tmp: Path, series: Path) -> None:
    task(tmp, series)
    (series / "step000020" / "config.json").unlink()


def edited_task(tmp: Path, series: Path) -> None:
    evaluated(tmp, series)
    edit_task(tmp / "facts.jsonl", ("q1",))


def other_series(tmp: Path, series: Path) -> None:
    evaluated(tmp, series)
    shutil.copytree(series, tmp / "other")


def foreign_file(tmp: Path, series: Path) -> None:
    evaluated(tmp, series)
    pq.write_table(pa.table({"a": [1]}), unit(tmp).with_name("notes.parquet"))


def truncated_unit(tmp: Path, series: Path) -> None:
    evaluated(tmp, series)
    unit(tmp).write_bytes(unit(tmp).read_bytes()[:50])


def string_steps(tmp: Path, series: Path) -> None:
    evaluated(tmp, series)
    table = pq.read_table(unit(tmp))
    steps = pa.array([str(s) for s in table["step"].to_pylist()])
    pq.write_table(table.set_column(table.schema.get_field_index("step"), "step", steps), unit(tmp))


def empty_choice(tmp: Path, series: Path) -> None:
    task(tmp, series)
    (tmp / "bad.jsonl").write_text('{"id": "x", "context": "Q: the cat", "choices": [" red", " "], "gold": 0}\n')


def users_folder(tmp: Path, series: Path) -> None:
    (tmp / "mine").mkdir()
    (tmp / "mine" / "notes.txt").write_text("mine")


def changed_import(tmp: Path, series: Path) -> None:
    from ckptlens.importers import import_lm_eval

    samples = [ChoiceSample(i, f"is {i} odd?", ["yes", "no"], i % 2, [-1.0, -2.0]) for i in range(4)]
    write_new_format(tmp / "first", Checkpoint("step1000", {"boolq": samples}))
    import_lm_eval([tmp / "first"], tmp / "store", run="r")
    changed = [ChoiceSample(i, f"was {i} odd?", ["yes", "no"], i % 2, [-1.0, -2.0]) for i in range(4)]
    write_new_format(tmp / "again", Checkpoint("step2000", {"boolq": changed}))


CASES = [
    {"id": "average-window-0", "args": ["average", "{series}", "--window", "0", "--out", "{tmp}/avg"],
     "setup": nothing, "exit_code": 2, "stderr_contains": "--window"},
    {"id": "average-stride-0", "args": ["average", "{series}", "--window", "2", "--stride", "0", "--out", "{tmp}/avg"],
     "setup": nothing, "exit_code": 2, "stderr_contains": "--stride"},
    {"id": "eval-average-window-0",
     "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store", "--average-window", "0"],
     "setup": task, "exit_code": 2, "stderr_contains": "--average-window"},
    {"id": "select-splits-0", "args": ["select", "--store", "{tmp}/store", "--last", "1", "--splits", "0"],
     "setup": evaluated, "exit_code": 2, "stderr_contains": "--splits"},
    {"id": "select-window-0", "args": ["select", "--store", "{tmp}/store", "--last", "1", "--window", "0"],
     "setup": evaluated, "exit_code": 2, "stderr_contains": "--window"},
    {"id": "stability-windows-beyond-series",
     "args": ["stability", "--store", "{tmp}/store", "--last", "1", "--windows", "16"],
     "setup": evaluated, "exit_code": 2, "stderr_contains": "--windows 16"},
    {"id": "eval-nan-weights", "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store"],
     "setup": nan_weights, "exit_code": 2, "stderr_contains": "step000010"},
    {"id": "eval-inf-weights", "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store"],
     "setup": inf_weights, "exit_code": 2, "stderr_contains": "step000010"},
    {"id": "average-nan-weights", "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "setup": nan_weights, "exit_code": 2, "stderr_contains": "step000010"},
    {"id": "eval-missing-config",
     "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store"],
     "setup": no_config, "exit_code": 2, "stderr_contains": "step000020"},
    {"id": "average-missing-config", "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "setup": no_config, "exit_code": 2, "stderr_contains": "step000020"},
    {"id": "eval-edited-task", "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store"],
     "setup": edited_task, "exit_code": 2, "stderr_contains": "--reevaluate"},
    {"id": "eval-reused-run-name",
     "args": ["eval", "{tmp}/other", "--tasks", "{tmp}/facts.jsonl", "--store", "{tmp}/store", "--run", "series"],
     "setup": other_series, "exit_code": 2, "stderr_contains": "run 'series'"},
    {"id": "records-file-of-another-schema", "args": ["stability", "--store", "{tmp}/store", "--last", "1"],
     "setup": foreign_file, "exit_code": 2, "stderr_contains": "notes.parquet"},
    {"id": "records-column-of-another-type", "args": ["records", "--store", "{tmp}/store"],
     "setup": string_steps, "exit_code": 2, "stderr_contains": "step000020.parquet"},
    {"id": "truncated-records-file", "args": ["stability", "--store", "{tmp}/store", "--last", "1"],
     "setup": truncated_unit, "exit_code": 2, "stderr_contains": "step000020.parquet"},
    {"id": "eval-choice-without-tokens",
     "args": ["eval", "{series}", "--tasks", "{tmp}/facts.jsonl,{tmp}/bad.jsonl", "--store", "{tmp}/store"],
     "setup": empty_choice, "exit_code": 2, "stderr_contains": "task 'bad'"},
    {"id": "demo-into-a-users-folder", "args": ["demo", "--out", "{tmp}/mine", "--tiny"],
     "setup": users_folder, "exit_code": 2, "stderr_contains": "mine"},
    {"id": "store-check-missing-store", "args": ["store", "check", "--store", "{tmp}/nowhere"],
     "setup": nothing, "exit_code": 2, "stderr_contains": "nowhere"},
    {"id": "import-changed-prompts",
     "args": ["import", "lm-eval", "{tmp}/again", "--store", "{tmp}/store", "--run", "r"],
     "setup": changed_import, "exit_code": 2, "stderr_contains": "task 'boolq'"},
]
