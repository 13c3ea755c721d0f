"""Resolve the ``--tasks`` a user names: a task file, or a built-in task of the demo world.

A built-in name is looked up in the series' own ``tasks/`` folder first (the
embedded pretraining run writes the tasks of its world there; an averaged
series looks in the series it was averaged from), then generated from the demo
world of the series' seed (0 when the series does not record one).
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from pathlib import Path

from ckptlens.checkpoints.hub import is_hub_spec
from ckptlens.errors import CkptlensError
from ckptlens.tasks.llm_jp_eval import is_llm_jp_eval, load_llm_jp_eval
from ckptlens.tasks.lm_eval_index import resolve_lm_eval
from ckptlens.tasks.registry import build_builtin, builtin_names
from ckptlens.tasks.task import Task
from ckptlens.tasks.task_file import load_task

TASKS_FOLDER = "tasks"
TASK_SUFFIXES = (".jsonl", ".json", ".yaml", ".yml", ".txt")


def resolve_tasks(specs: Sequence[str], series_dir: str | Path | None = None) -> list[Task]:
    """Tasks for each spec (a path to a task file, a built-in name, ``all`` for every built-in, or
    ``lm-eval:NAME`` for lm-eval's own tasks with its default options; ``lm_eval_index`` takes options;
    ``llm-jp-eval:DIR[/NAME]`` for llm-jp-eval datasets with its default settings))."""
    builtins = builtin_names()
    if not specs:
        raise CkptlensError(f"no tasks given; name task files or built-in tasks: {', '.join(builtins)}")
    names = [n for spec in specs for n in (builtins if spec == "all" else (spec,))]
    resolved = resolve_lm_eval(list(dict.fromkeys(names)))
    return [
        task
        for spec in resolved
        for task in ([spec] if isinstance(spec, Task) else
                     load_llm_jp_eval(spec) if is_llm_jp_eval(spec) else [_resolve(spec, series_dir)])
    ]


def default_tasks(series_dir: str | Path | None) -> list[str]:
    """The tasks to run when none are named: the built-ins, only on a series that records them in its
    ``tasks/`` folder (the demo's pretraining run, or a series averaged from it); otherwise an error, since the
    demo world's synthetic tasks mean nothing to another model."""
    if any(folder.is_dir() for folder in _task_folders(series_dir)):
        return ["all"]
    where = f"{series_dir} records no tasks (no {TASKS_FOLDER}/ folder)" if series_dir else "no series folder"
    raise CkptlensError(f"--tasks is required: {where}; name task files (.jsonl, .yaml, .txt) or lm-eval tasks, "
                        "e.g. --tasks my_task.jsonl")


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
    source = manifest_source(series_dir)
    if source is not None:
        folders.append(source / TASKS_FOLDER)
    return folders


def _series_seed(series_dir: str | Path | None) -> int:
    if series_dir is None:
        return 0
    manifest = series_manifest(Path(series_dir))
    source = manifest_source(Path(series_dir))
    if "seed" not in manifest and source is not None:
        manifest = series_manifest(source)
    return int(manifest.get("seed", 0))


def series_manifest(series_dir: Path) -> dict:
    """The series' ``manifest.json`` (written by ``pretrain`` and ``average``), or {}."""
    path = Path(series_dir) / "manifest.json"
    if not path.is_file():
        return {}
    from ckptlens.checkpoints.manifest import read_manifest

    return read_manifest(path)


def manifest_source(series_dir: Path) -> Path | None:
    """The local series an averaged folder was made from, as a resolved path; None for a plain or Hub series.

    ``average`` writes the source as an absolute path; a relative one is read relative to
    the folder holding the manifest, never to the current directory, so every command
    finds the same source wherever it runs.
    """
    source = series_manifest(series_dir).get("source")
    if not source or is_hub_spec(source):
        return None
    return (Path(series_dir) / source).resolve()
