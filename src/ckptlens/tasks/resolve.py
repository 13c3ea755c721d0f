"""Resolve the ``--tasks`` a user names: a task file, or a built-in task of the demo world.

A built-in name is looked up in the series' own ``tasks/`` folder first (the
embedded pretraining run writes the tasks of its world there; an averaged
series looks in the series it was averaged from), then generated from the demo
world of the series' seed (0 when the series does not record one).
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Sequence
from pathlib import Path

from ckptlens.errors import CkptlensError
from ckptlens.tasks.llm_jp_eval import is_llm_jp_eval, load_llm_jp_eval
from ckptlens.tasks.registry import build_builtin, builtin_names
from ckptlens.tasks.task import Task
from ckptlens.tasks.task_file import load_task

TASKS_FOLDER = "tasks"
TASK_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".txt")


def resolve_tasks(specs: Sequence[str], series_dir: str | Path | None = None) -> list[Task]:
    """Tasks for each spec (a path to a task file, a built-in name, ``all`` for every built-in, or
    ``llm-jp-eval:DIR[/NAME]`` for llm-jp-eval datasets with its default settings)."""
    builtins = builtin_names()
    if not specs:
        raise CkptlensError(f"no tasks given; name task files or built-in tasks: {', '.join(builtins)}")
    names = [n for spec in specs for n in (builtins if spec == "all" else (spec,))]
    return [
        task
        for spec in dict.fromkeys(names)
        for task in (load_llm_jp_eval(spec) if is_llm_jp_eval(spec) else [_resolve(spec, series_dir)])
    ]


def _resolve(spec: str, series_dir: str | Path | None) -> Task:
    path = Path(spec)
    if path.suffix in TASK_SUFFIXES or path.is_file():
        return load_task(path)
    for folder in _task_folders(series_dir):
        if (folder / f"{spec}.jsonl").is_file():
            return load_task(folder / f"{spec}.jsonl")
    if spec in builtin_names():
        return build_builtin(spec, _series_seed(series_dir))
    hint = difflib.get_close_matches(spec, builtin_names(), n=1)
    did_you_mean = f"did you mean {hint[0]!r}? " if hint else ""
    raise CkptlensError(
        f"unknown task {spec!r}: {did_you_mean}give a task file (.jsonl, .yaml, .txt) "
        f"or one of {', '.join(builtin_names())}"
    )


def _task_folders(series_dir: str | Path | None) -> list[Path]:
    if series_dir is None:
        return []
    series_dir = Path(series_dir)
    folders = [series_dir / TASKS_FOLDER]
    source = series_manifest(series_dir).get("source")
    if source:
        folders.append(Path(source) / TASKS_FOLDER)
    return folders


def _series_seed(series_dir: str | Path | None) -> int:
    if series_dir is None:
        return 0
    manifest = series_manifest(Path(series_dir))
    if "seed" not in manifest and manifest.get("source"):
        manifest = series_manifest(Path(manifest["source"]))
    return int(manifest.get("seed", 0))


def series_manifest(series_dir: Path) -> dict:
    """The series' ``manifest.json`` (written by ``pretrain`` and ``average``), or {}."""
    path = Path(series_dir) / "manifest.json"
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError:
        raise CkptlensError(f"{path} is not valid JSON; repair or delete it") from None
