"""``import_lm_eval``: lm-evaluation-harness outputs of a checkpoint series into a ckptlens store.

Teams that already evaluated their checkpoints with lm-eval get instability
metrics and ensembles without re-running anything. Results files give
task-level aggregates (both the 0.4.x format and the older one the Pythia suite
published); ``--log_samples`` files give per-example records.

Run names: ``run`` when given, else the model's name (``EleutherAI/pythia-v1.1-410m``
-> ``pythia-410m``; a local ``run7/checkpoint-500`` -> ``run7``), suffixed
``-<k>shot`` when every task of the file ran k > 0 shots, so a model's zero- and
five-shot evaluations land in different runs (``pythia-410m``, ``pythia-410m-5shot``).

>>> import json, tempfile, pathlib
>>> folder = pathlib.Path(tempfile.mkdtemp())
>>> (folder / "410m_step1000.json").write_text(json.dumps({"results": {"piqa": {"acc": 0.6, "acc_stderr": 0.01}},
...     "config": {"model_args": "pretrained=EleutherAI/pythia-v1.1-410m,revision=step1000", "num_fewshot": 0}}))
159
>>> summary = import_lm_eval([folder], folder / "store")
>>> summary.runs, summary.checkpoints, summary.aggregate_rows
(('pythia-410m',), 1, 1)
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from ckptlens.errors import CkptlensError
from ckptlens.importers import identity
from ckptlens.importers.discover import find_lm_eval_files, pair_samples, samples_name_parts
from ckptlens.importers.results import ResultsFile, read_results
from ckptlens.importers.units import GroupResult, SampleUnit, import_group
from ckptlens.store import AGGREGATE_SCHEMA, Store, aggregates_table

Progress = Callable[[str, int, int], None]
PARALLEL_MIN_FILES = 16  # below this, worker processes cost more than they save


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote: runs, checkpoints, aggregate rows and per-example records."""

    runs: tuple[str, ...]
    checkpoints: int
    aggregate_rows: int
    records: int
    tasks_with_samples: int


def import_lm_eval(
    paths: Iterable[str | Path],
    store: Store | str | Path,
    run: str | None = None,
    step_from: str | None = None,
    n_params: int | None = None,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import lm-eval results (and samples, when logged) found under ``paths`` into ``store``.

    ``step_from`` is a regex whose first group is the step in a results file's path, used when
    the file's ``model_args``/``model_revision`` name no step. ``n_params`` overrides the model
    size read from lm-eval's ``model_num_parameters`` or the model name (``pythia-1.4b``).
    """
    store = store if isinstance(store, Store) else Store(store)
    progress = progress or (lambda stage, done, total: None)
    results_paths, samples_paths = find_lm_eval_files(list(paths))
    pattern = _compile(step_from)
    results = []
    for i, path in enumerate(results_paths, 1):
        results.append(read_results(path, pattern))
        progress("read results", i, len(results_paths))
    runs = {r.path: run or _default_run(r) for r in results}
    _check_runs(results, runs, explicit=run is not None)
    units = _sample_units(samples_paths, {r.path: r for r in results}, runs)
    _warn_partial_tasks(results, runs, units)
    # Samples first: each (run, task) group is read and checked whole before its records are written, and the
    # aggregates only after every group, so a file the importer cannot read leaves a one-group import unwritten.
    groups = _import_samples(store, units, progress)
    rows = _write_aggregates(store, results, runs)
    for message in (m for g in groups for m in g.warnings):
        warnings.warn(message, stacklevel=2)
    _write_run_infos(store, results, runs, n_params)
    return ImportSummary(
        runs=tuple(sorted(set(runs.values()))),
        checkpoints=len({(runs[r.path], r.checkpoint) for r in results}),
        aggregate_rows=rows,
        records=sum(g.records for g in groups),
        tasks_with_samples=len(groups),
    )


def _compile(step_from: str | None) -> re.Pattern | None:
    if step_from is None:
        return None
    try:
        pattern = re.compile(step_from)
    except re.error as err:
        raise CkptlensError(f"--step-from {step_from!r} is not a regular expression: {err}") from None
    if pattern.groups < 1:
        raise CkptlensError(f"--step-from {step_from!r} needs a group around the step, e.g. 'step(\\d+)'")
    return pattern


def _default_run(result: ResultsFile) -> str:
    if not result.model:
        raise CkptlensError(f"{result.path} names no model (model_args has no pretrained=); pass --run NAME")
    name = identity.default_run_name(result.model)
    shots = result.shots()
    return f"{name}-{shots.pop()}shot" if len(shots) == 1 and min(shots) > 0 else name


def _check_runs(results: list[ResultsFile], runs: dict[Path, str], explicit: bool) -> None:
    """One step per checkpoint name, and one few-shot setting per (run, checkpoint, task)."""
    steps: dict[tuple[str, int], str] = {}
    shots: dict[tuple[str, str, str], int | None] = {}
    for r in results:
        known = steps.setdefault((runs[r.path], r.step), r.checkpoint)
        if known != r.checkpoint:
            raise CkptlensError(f"run {runs[r.path]!r}: {known} and {r.checkpoint} are both step {r.step}; "
                                "import them as separate runs (--run)")
        for task, n in r.num_fewshot.items():
            if shots.setdefault((runs[r.path], r.checkpoint, task), n) != n:
                hint = "import each setting with its own --run" if explicit else "import each setting separately"
                raise CkptlensError(f"run {runs[r.path]!r}, {r.checkpoint}, {task}: results with "
                                    f"{shots[(runs[r.path], r.checkpoint, task)]} and {n} shots; {hint}")


def _write_aggregates(store: Store, results: list[ResultsFile], runs: dict[Path, str]) -> int:
    """One aggregates file per (run, checkpoint); tasks imported earlier from other files are kept."""
    by_checkpoint: dict[tuple[str, str], list[ResultsFile]] = {}
    for r in sorted(results, key=lambda r: r.path.name):  # lm-eval stamps sort by time: the latest file wins
        by_checkpoint.setdefault((runs[r.path], r.checkpoint), []).append(r)
    written = 0
    for (run, checkpoint), files in by_checkpoint.items():
        latest = {row["task"]: (r, []) for r in files for row in r.rows}
        for r in files:
            for row in r.rows:
                if latest[row["task"]][0] is r:
                    latest[row["task"]][1].append(row)
        rows = [{"run": run, "checkpoint": checkpoint, "step": r.step, "tokens_seen": r.tokens_seen, **row}
                for r, task_rows in latest.values() for row in task_rows]
        table = pa.concat_tables([_earlier_aggregates(store, run, checkpoint, set(latest)), aggregates_table(rows)])
        store.write_aggregates(run, checkpoint, table)
        written += len(rows)
    return written


def _earlier_aggregates(store: Store, run: str, checkpoint: str, replaced: set[str]) -> pa.Table:
    path = store.aggregates_path(run, checkpoint)
    if not path.is_file():
        return AGGREGATE_SCHEMA.empty_table()
    earlier = pq.read_table(path, schema=AGGREGATE_SCHEMA)
    return earlier.filter(pc.invert(pc.is_in(earlier["task"], value_set=pa.array(sorted(replaced), pa.string()))))


def _sample_units(samples: list[Path], results: dict[Path, ResultsFile], runs: dict[Path, str]) -> list[SampleUnit]:
    """Each samples file with its checkpoint; of two files for one (run, checkpoint, task) the later stamp wins."""
    units: dict[tuple[str, str, str], SampleUnit] = {}
    for path, results_path in sorted(pair_samples(samples, list(results)).items(), key=lambda p: p[0].name):
        r, (task, _) = results[results_path], samples_name_parts(path.name)
        key = (runs[results_path], r.checkpoint, task)
        if key in units:
            warnings.warn(f"{units[key].path} and {path} both hold {task} at {r.checkpoint}; importing {path}",
                          stacklevel=3)
        units[key] = SampleUnit(path, key[0], r.checkpoint, r.step, r.tokens_seen, task, r.dtype, r.task_hashes)
    return list(units.values())


def _warn_partial_tasks(results: list[ResultsFile], runs: dict[Path, str], units: list[SampleUnit]) -> None:
    """A task evaluated at some checkpoints only is analysed where present; say so once per (run, task)."""
    present: dict[str, dict[str, set[str]]] = {}
    for r in results:
        for task in r.tasks:
            present.setdefault(runs[r.path], {}).setdefault(task, set()).add(r.checkpoint)
    for u in units:
        present.setdefault(u.run, {}).setdefault(u.task, set()).add(u.checkpoint)
    for run, tasks in present.items():
        checkpoints = set().union(*tasks.values())
        for task, where in sorted(tasks.items()):
            if len(where) < len(checkpoints):
                missing = sorted(checkpoints - where)
                warnings.warn(f"run {run!r}: task {task!r} is missing at {len(missing)} of {len(checkpoints)} "
                              f"checkpoints ({', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}); "
                              "it is analysed where present", stacklevel=3)


def _import_samples(store: Store, units: list[SampleUnit], progress: Progress) -> list[GroupResult]:
    groups: dict[tuple[str, str], list[SampleUnit]] = {}
    for unit in units:
        groups.setdefault((unit.run, unit.task), []).append(unit)
    workers = min(len(groups), os.cpu_count() or 1) if len(units) >= PARALLEL_MIN_FILES else 1
    done: list[GroupResult] = []
    if workers <= 1:
        for group in groups.values():
            done.append(import_group(str(store.root), group))
            progress("import samples", len(done), len(groups))
        return done
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(import_group, str(store.root), group) for group in groups.values()]
        for future in futures:
            done.append(future.result())
            progress("import samples", len(done), len(groups))
    return done


def _write_run_infos(store: Store, results: list[ResultsFile], runs: dict[Path, str], n_params: int | None) -> None:
    """Record where each run came from and, when known, its size (for comparisons across model sizes)."""
    for run in sorted(set(runs.values())):
        files = [r for r in results if runs[r.path] == run]
        info = store.run_info(run)
        info.pop("run", None)
        paths = sorted({*info.get("import_paths", []), *(str(r.path.parent.resolve()) for r in files)})
        models = sorted({r.model for r in files if r.model})
        size = n_params or next((r.n_params for r in files if r.n_params), None)
        formats = sorted({r.format for r in files})
        info.update({"source": "lm-eval", "import_paths": paths, "models": models, "formats": formats})
        if size is not None:
            info["n_params"] = int(size)
        if any("pythia" in m.lower() for m in models):
            info["tokens_per_step"] = identity.PYTHIA_TOKENS_PER_STEP
        store.write_run_info(run, info)
