"""The demo run: the whole idea of ckptlens on a series it makes itself, in one call.

pretrain a tiny model on the demo world → evaluate every checkpoint on the
built-in tasks → record the parameter drift between neighbours → average
trailing windows of 2, 4 and 8 checkpoints (only where the stability window
needs them) and evaluate those → stability table and report. Every stage
resumes: run it again and only missing work is done.

Output layout: ``OUT/series`` (checkpoints), ``OUT/averaged/avgN`` (averaged
checkpoints), ``OUT/store`` (records), ``OUT/report`` (HTML, figures, tables) and
``OUT/summary.json``: the means over tasks the command prints, the raw row of every
task, the final window, and when, where and how long the run took, so every number
quoted from a demo run can be traced to one file (the README's table is checked
against such a file).

``run_demo("demo-out")`` is ``ckptlens demo --out demo-out``; ``tests/test_demo.py`` runs the tiny
configuration end to end. A folder the demo did not make is refused before anything is written:

>>> import pathlib
>>> _ = pathlib.Path("mine").mkdir(); _ = pathlib.Path("mine/notes.txt").write_text("keep")
>>> run_demo("mine")
Traceback (most recent call last):
ckptlens.errors.CkptlensError: --out mine is not empty and was not made by the demo; give a new or empty folder
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.averaging import average_series
from ckptlens.checkpoints import discover_series, window_ends_in_last
from ckptlens.diagnostics import series_drift
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.evaluate import evaluate
from ckptlens.evaluation.runner import EvalConfig
from ckptlens.files import write_text_atomic
from ckptlens.pretrain import PretrainConfig, pretrain
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.build import Report
from ckptlens.store import Store, drift_table

DEMO_MARKER = ".ckptlens-demo"  # marks a folder the demo made (the demo may remove its unfinished parts)
# stage name, done, total
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class DemoConfig:
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)
    windows: tuple[int, ...] = (2, 4, 8)  # averaging and ensembling windows compared with raw
    last: float = 0.2  # stability window: final fraction of training
    eval: EvalConfig = EvalConfig()
    tasks: tuple[str, ...] = ("all",)  # built-in tasks of the demo world


def run_demo(out: str | Path, config: DemoConfig = DemoConfig(), progress: Progress | None = None) -> Report:
    """Run (or resume) the demo into ``out``; returns the report with its stability rows."""
    out = Path(out)
    started = time.monotonic()
    _take_out_dir(out)
    notify = progress or (lambda stage, done, total: None)
    series_dir = _pretrained_series(out / "series", config.pretrain, notify)
    store = Store(out / "store")
    run = config.pretrain.run_name
    _evaluate(series_dir, store, run, config, notify, "evaluate checkpoints")
    series = discover_series(series_dir)
    _record_drift(series_dir, [c.step for c in series], store, run, notify)
    for n in config.windows:
        steps = window_ends_in_last(series, n, config.last)
        if len(steps) < 2:
            continue
        avg_dir = out / "averaged" / f"avg{n}"
        average_series(series, n, avg_dir, steps=steps, progress=lambda d, t, n=n: notify(f"average n={n}", d, t))
        _evaluate(avg_dir, store, f"{run}-avg{n}", config, notify, f"evaluate averages n={n}")
    report_config = ReportConfig(StabilityConfig(last=config.last, windows=config.windows))
    report = write_report(store, out / "report", report_config)
    _write_summary(out / "summary.json", report, time.monotonic() - started)
    return report


def _write_summary(path: Path, report: Report, seconds: float) -> None:
    """``summary.json``: the printed means over tasks and each task's raw row, with the run's date and machine."""
    raw = [r.to_dict() for r in report.rows if r.method == "raw"]
    summary = {
        "created": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}, "
                   f"Python {platform.python_version()}",
        "seconds": round(seconds, 1),  # this call only: a resumed demo reports the work it redid
        "final_window": {key: raw[0][key] for key in ("first_step", "last_step", "n_checkpoints")} if raw else None,
        "tasks": {r["task"]: {key: r[key] for key in ("mean_score", "task_mtv", "example_mtv", "instability_score",
                                                       "std", "near_chance", "note")} for r in raw},
        "means": report.summary,
    }
    write_text_atomic(path, json.dumps(summary, indent=1) + "\n")


def _take_out_dir(out: Path) -> None:
    """Make ``out`` the demo's folder, refusing a non-empty one the demo did not make.

    The demo removes what it left unfinished (a series killed mid-pretraining), so it must
    only ever work in a folder of its own: marked by ``DEMO_MARKER``, or holding the
    pretraining manifest an earlier demo wrote.
    """
    if out.exists() and not out.is_dir():
        raise CkptlensError(f"--out {out} is a file; give a new folder for the demo")
    ours = (out / DEMO_MARKER).is_file() or (out / "series" / "manifest.json").is_file()
    if out.is_dir() and any(out.iterdir()) and not ours:
        raise CkptlensError(f"--out {out} is not empty and was not made by the demo; give a new or empty folder")
    out.mkdir(parents=True, exist_ok=True)
    (out / DEMO_MARKER).touch()


def _pretrained_series(series_dir: Path, config: PretrainConfig, notify: Progress) -> Path:
    """Pretrain, unless a finished run of the same configuration is already there.

    An unfinished run of the same configuration (killed while pretraining, so
    nothing was evaluated yet) is started again; a different configuration is
    an error rather than a silent mix of two runs in one output folder.
    """
    manifest_path = series_dir / "manifest.json"
    if manifest_path.is_file():
        manifest = json.loads(manifest_path.read_text())
        if manifest.get("config") != config.to_dict():
            raise CkptlensError(
                f"{series_dir} holds a pretraining run with another configuration; use a new --out or delete it"
            )
        steps = [c["step"] for c in manifest.get("checkpoints", [])]
        if steps and steps[-1] == config.max_steps:
            return series_dir
    if series_dir.exists():
        shutil.rmtree(series_dir)
    return pretrain(config, series_dir, progress=lambda step, total, loss: notify("pretrain", step, total))


def _record_drift(series_dir: Path, steps: list[int], store: Store, run: str, notify: Progress) -> None:
    """Drift between neighbouring checkpoints into the store, unless it is there for exactly these steps."""
    recorded = store.read_drift(run)
    if recorded is not None and sorted(set(recorded["step_b"].to_pylist())) == steps[1:]:
        return
    drift = series_drift(series_dir, progress=lambda done, total: notify("parameter drift", done, total))
    store.write_drift(run, drift_table(r.to_dict() for r in drift))


def _evaluate(series_dir: Path, store: Store, run: str, config: DemoConfig, notify: Progress, stage: str) -> None:
    evaluate(series_dir, config.tasks, store, run, config.eval, progress=lambda done, total: notify(stage, done, total))
