"""Finding lm-eval outputs under the paths a user gives, and pairing samples with their results.

lm-eval writes ``OUTPUT/<model_name_sanitized>/results_<stamp>.json`` and, with
``--log_samples``, ``samples_<task>_<stamp>.jsonl`` beside it with the same stamp;
several checkpoints are several such folders. The Pythia suite's older files are
plain ``*.json`` results files with any name.

>>> samples_name_parts("samples_arc_easy_2024-05-01T12-30-45.123456.jsonl")
('arc_easy', '2024-05-01T12-30-45.123456')
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from ckptlens.errors import CkptlensError

RESULTS_PREFIX = "results_"
SAMPLES_PREFIX = "samples_"


def find_lm_eval_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[Path]]:
    """(results files, samples files) in the given files and folders, folders searched recursively."""
    results: set[Path] = set()
    samples: set[Path] = set()
    for path in map(Path, paths):
        if not path.exists():
            raise CkptlensError(f"not found: {path}; give lm-eval output folders or results_*.json files")
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            if _is_samples(file):
                samples.add(file)
            elif file.suffix == ".json":
                results.add(file)
    if not results:
        raise CkptlensError(f"no lm-eval results (*.json) under {', '.join(map(str, paths))}")
    return sorted(results), sorted(samples)


def samples_name_parts(name: str) -> tuple[str, str]:
    """(task, stamp) of a samples file name, split the way lm-eval splits it (task names hold underscores)."""
    stem = name.removesuffix(".jsonl").removeprefix(SAMPLES_PREFIX)
    task, _, stamp = stem.rpartition("_")
    return (task, stamp) if task else (stem, "")


def results_stamp(path: Path) -> str | None:
    """The timestamp in ``results_<stamp>.json``; None for files named otherwise (the old Pythia files)."""
    return path.stem.removeprefix(RESULTS_PREFIX) if path.name.startswith(RESULTS_PREFIX) else None


def pair_samples(samples: list[Path], results: list[Path]) -> dict[Path, Path]:
    """The results file of each samples file: same folder and stamp, else the folder's only results file."""
    by_folder: dict[Path, list[Path]] = {}
    for path in results:
        by_folder.setdefault(path.parent, []).append(path)
    pairs = {}
    for path in samples:
        _, stamp = samples_name_parts(path.name)
        beside = by_folder.get(path.parent, [])
        same_stamp = [r for r in beside if results_stamp(r) == stamp]
        chosen = same_stamp or (beside if len(beside) == 1 else [])
        if not chosen:
            raise CkptlensError(
                f"no results_{stamp}.json beside {path}: lm-eval writes one per run and it names the "
                "checkpoint; import the whole folder lm-eval wrote"
            )
        pairs[path] = chosen[0]
    return pairs


def _is_samples(path: Path) -> bool:
    return path.name.startswith(SAMPLES_PREFIX) and path.suffix == ".jsonl"
