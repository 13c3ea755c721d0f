"""The table-driven robustness suite: malformed inputs and faults, each one line on stderr and no damage.

Every ``cases_*.py`` module in this folder exports ``CASES``, a list of dicts::

    {"id": "eval-truncated-safetensors",          # unique name of the case
     "args": ["eval", "{series}", "--store", "{store}", "--tasks", "{task}"],
     "setup": lambda tmp, series: ...,            # optional: build the bad input under tmp
     "exit_code": 2,
     "stderr_contains": "model.safetensors"}      # a string, or a list of strings

and optionally ``"patch": lambda monkeypatch, tmp: ...`` for faults of the machine (a full disk, no CUDA,
no network). In ``args``, ``{tmp}`` is the case's own folder, ``{series}`` the shared tiny series
(read-only: a case that damages a series copies it with ``copy_series``), ``{store}`` a copy of a store
that already holds records of that series (run ``tiny``, task ``colors``) and ``{task}`` a valid task file.

Each case must exit with its code, print exactly one non-empty line on stderr that contains every
``stderr_contains`` fragment and no traceback, and leave the store's record files (listing and bytes)
as they were.
"""

from __future__ import annotations

import hashlib
import importlib
import shutil
import sys
from pathlib import Path

import pytest

from ckptlens.cli.app import main
from tests.cli.conftest import write_mc_task

HERE = Path(__file__).parent
RECORD_FOLDERS = ("records", "aggregates", "drift")


def load_cases() -> list[dict]:
    cases = []
    for module_path in sorted(HERE.glob("cases_*.py")):
        module = importlib.import_module(f"tests.robustness.{module_path.stem}")
        cases.extend(dict(case, module=module_path.stem) for case in module.CASES)
    ids = [case["id"] for case in cases]
    duplicated = sorted({i for i in ids if ids.count(i) > 1})
    assert not duplicated, f"case ids used twice: {duplicated}"
    return cases


CASES = load_cases()


@pytest.fixture(scope="session")
def prepared_store(tiny_series, tmp_path_factory) -> Path:
    """A store holding run ``tiny``: the tiny series evaluated on a 4-example task, built once."""
    root = tmp_path_factory.mktemp("robust")
    task = write_mc_task(root / "colors.jsonl", n=4)
    code = run_cli(["eval", str(tiny_series), "--tasks", str(task), "--store", str(root / "store"), "--run", "tiny",
                    "--device", "cpu"])
    assert code == 0
    return root / "store"


def run_cli(args: list[str]) -> int:
    saved = sys.argv
    sys.argv = ["ckptlens", *args]
    try:
        main()
    except SystemExit as exit:
        return exit.code or 0
    finally:
        sys.argv = saved
    return 0


def record_hash(store: Path) -> str:
    """Names and bytes of every file under the store's record folders (claims and temporary files included;
    an empty folder left by a released claim holds nothing a reader sees)."""
    digest = hashlib.sha256()
    for folder in RECORD_FOLDERS:
        for path in sorted((store / folder).rglob("*")) if (store / folder).is_dir() else []:
            if path.is_file():
                digest.update(str(path.relative_to(store)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, tiny_series, prepared_store, tmp_path, monkeypatch, capsys, one_thread):
    store = tmp_path / "store"
    shutil.copytree(prepared_store, store)
    task = write_mc_task(tmp_path / "task.jsonl", n=4)
    if case.get("setup"):
        case["setup"](tmp_path, tiny_series)
    if case.get("patch"):
        case["patch"](monkeypatch, tmp_path)
    before = record_hash(store)
    places = {"tmp": tmp_path, "series": tiny_series, "store": store, "task": task}
    capsys.readouterr()
    code = run_cli([str(a).format(**places) for a in case["args"]])
    _, err = capsys.readouterr()
    # warnings about the input the command could still use may come first; the failure is one line
    lines = [line for line in err.splitlines() if line.strip() and not line.startswith("warning: ")]
    assert code == case["exit_code"], err
    assert "Traceback" not in err and len(lines) == 1, err
    fragments = case["stderr_contains"]
    for fragment in [fragments] if isinstance(fragments, str) else fragments:
        assert str(fragment).format(**places) in lines[0], lines[0]
    assert record_hash(store) == before, "the store's record files changed"


def test_the_suite_is_large_enough():
    assert len(CASES) >= 100
