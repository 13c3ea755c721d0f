"""Watch mode: evaluate each checkpoint of a series as training writes it, never a half-written one.

Training writes a checkpoint folder file by file (``config.json`` often comes
first), so a folder that ``discover_series`` lists may still be incomplete.
A checkpoint is evaluated once it is *complete*: either the marker file the
user names exists in it, or its weights are whole (every shard an index names
is present, each safetensors file exactly as long as its header says) and no
file in the folder changed size or time between two polls. Each evaluation
goes through ``evaluate``, whose store skips finished units, so a checkpoint
is evaluated exactly once, and a restarted watch resumes where it stopped.

Here the store already holds run ``demo`` on ``capitals``, so the watch finds nothing new to do and stops
after its timeout (a real watch polls every minute, and waits an hour or more):

>>> watch_series("runs/demo", ["tasks/capitals.jsonl"], Store("store"), run="demo",
...              options=WatchOptions(poll_seconds=0.01, timeout=0.05)).units_done
0
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ckptlens.checkpoints import Checkpoint, discover_series, parse_step
from ckptlens.checkpoints.weights import read_layout
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.evaluate import SeriesOptions, evaluate
from ckptlens.evaluation.runner import EvalConfig, EvalSummary
from ckptlens.store import Store
from ckptlens.tasks.resolve import default_tasks
from ckptlens.tasks.task import Task

OnCheckpoint = Callable[[Checkpoint, EvalSummary], None]
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class WatchOptions:
    poll_seconds: float = 30.0  # seconds between two looks at the series folder
    timeout: float | None = None  # stop after this many seconds without a new checkpoint; None: until Ctrl-C
    marker: str | None = None  # a file (e.g. ".done") whose presence alone marks a checkpoint complete

    def __post_init__(self) -> None:
        if self.poll_seconds <= 0 or (self.timeout is not None and self.timeout < 0):
            raise CkptlensError("--poll-seconds must be positive and --watch-timeout not negative")


@dataclass
class WatchSummary:
    checkpoints: list[str] = field(default_factory=list)  # evaluated in this watch, in order
    units_done: int = 0
    units_skipped: int = 0


def is_complete(folder: str | Path, marker: str | None = None) -> bool:
    """Whether a checkpoint folder is fully written, judged from its files alone.

    With ``marker``, the marker file's presence decides (the writer creates it last).
    Otherwise ``config.json`` must parse and the safetensors weights must be whole:
    every shard the index names present, every header valid, and every file exactly
    ``8 + header length + data size`` bytes long, so a file still being copied is refused.
    """
    folder = Path(folder)
    if marker is not None:
        return (folder / marker).is_file()
    try:
        json.loads((folder / "config.json").read_text())
        layout = read_layout(folder)
    except (CkptlensError, OSError, ValueError, KeyError, TypeError):
        return False
    expected: dict[str, int] = {}
    for info in layout.tensors.values():
        expected[info.file] = max(expected.get(info.file, 0), info.span[1])
    return all((folder / file).stat().st_size == size for file, size in expected.items())


def fingerprint(folder: Path) -> Fingerprint:
    """Name, size and modification time of every file under ``folder``: equal on two polls means it is at rest."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    return tuple((str(p.relative_to(folder)), p.stat().st_size, p.stat().st_mtime_ns) for p in files)


def watch_series(
    series_dir: str | Path,
    tasks: Sequence[str | Task],
    store: Store,
    run: str | None = None,
    config: EvalConfig = EvalConfig(),
    options: WatchOptions = WatchOptions(),
    on_checkpoint: OnCheckpoint | None = None,
) -> WatchSummary:
    """Poll ``series_dir`` and evaluate each checkpoint once it is complete, oldest step first.

    Checkpoints already complete when the watch starts are evaluated first (or
    skipped, when the store has them). ``on_checkpoint(checkpoint, summary)`` runs
    after each one, e.g. to refresh a report. Returns when ``options.timeout``
    seconds pass without a new checkpoint; Ctrl-C stops it too, keeping finished units.
    """
    series_dir = Path(series_dir)
    if not series_dir.is_dir():
        raise CkptlensError(f"series folder not found: {series_dir}; create it or point --watch at the run's output")
    tasks = list(tasks) or default_tasks(series_dir)
    summary, ready, seen = WatchSummary(), [], {}
    last_new = time.monotonic()
    while True:
        for ckpt in _newly_complete(series_dir, options.marker, ready, seen):
            ready.append(ckpt)
            result = _evaluate_newest(series_dir, tasks, store, run, config, ready, summary)
            if on_checkpoint is not None:
                on_checkpoint(ckpt, result)
            last_new = time.monotonic()
        if options.timeout is not None and time.monotonic() - last_new >= options.timeout:
            return summary
        time.sleep(options.poll_seconds)


def _newly_complete(
    series_dir: Path, marker: str | None, ready: list[Checkpoint], seen: dict[str, Fingerprint]
) -> list[Checkpoint]:
    """Checkpoints complete now and not yet handled; without a marker, also at rest since the previous poll.

    ``seen`` keeps each complete candidate's fingerprint from the previous poll.
    """
    handled = {c.name for c in ready}
    found = []
    for ckpt in _candidates(series_dir):
        if ckpt.name in handled or not is_complete(ckpt.path, marker):
            continue
        if marker is not None:
            found.append(ckpt)
            continue
        try:
            now = fingerprint(ckpt.path)
        except OSError:  # a file vanished while listed (a temporary name renamed): look again next poll
            seen.pop(ckpt.name, None)
            continue
        if seen.get(ckpt.name) == now:
            found.append(ckpt)
        seen[ckpt.name] = now
    return found


def _candidates(series_dir: Path) -> list[Checkpoint]:
    """The series' checkpoint folders so far; none yet (a run that has not saved) is not an error."""
    started = any(parse_step(p.name) is not None and (p / "config.json").is_file() for p in series_dir.iterdir())
    return discover_series(series_dir, skip_incomplete=True) if started else []


def _evaluate_newest(
    series_dir: Path,
    tasks: Sequence[str | Task],
    store: Store,
    run: str | None,
    config: EvalConfig,
    ready: list[Checkpoint],
    summary: WatchSummary,
) -> EvalSummary:
    """Evaluate the newest complete checkpoint, add it to ``summary`` and return its own counts.

    ``evaluate`` gets every complete checkpoint so the run's info lists them all; the store
    skips the units of those handled before, which ``summary`` already counted.
    """
    steps = ",".join(str(c.step) for c in ready)
    result = evaluate(series_dir, tasks, store, run, config, series=SeriesOptions(steps=steps, skip_incomplete=True))
    counted_before = summary.units_done + summary.units_skipped
    own = EvalSummary(result.units_done, result.units_skipped - counted_before, result.models_loaded)
    summary.checkpoints.append(ready[-1].name)
    summary.units_done += own.units_done
    summary.units_skipped += own.units_skipped
    return own
