"""A store is a folder any worker can write into.

Layout::

    STORE/records/<run>/<task>/<checkpoint>.parquet   one unit of work each
    STORE/aggregates/<run>/<checkpoint>.parquet       task-level results imported without samples
    STORE/runs/<run>.json                             what the run is (series, base run, method, losses)
    STORE/drift/<run>.parquet                         parameter drift between the run's neighbouring checkpoints

Every file is written under a temporary name in the same folder and renamed, so
a reader or a resumed run never sees half a file; ``has_unit`` is how a resumed
evaluation skips finished work. Writers on several machines can share one store
folder: a writer claims a unit before evaluating it (``claim_unit``, a
``<unit>.parquet.claim`` file, see ``claims``), so no two evaluate the same one.
A large unit may be written in shards, ``records/<run>/<task>/<checkpoint>.shards/
00001-of-00004.parquet``, merged into the unit file once all are there; until
then the unit does not exist for readers. Only ``*.parquet`` files directly in a
task folder are records.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq

from ckptlens.errors import CkptlensError
from ckptlens.files import TMP_PREFIX, atomic_path, read_json, remove
from ckptlens.store.claims import Claim, claim_path, is_stale, try_claim
from ckptlens.store.records import AGGREGATE_SCHEMA, DRIFT_SCHEMA, RECORD_SCHEMA
from ckptlens.store.runs import RunInfo, averaged_runs, base_runs

# Record columns added after the first stores were written; files without them read them as null.
OPTIONAL_RECORD_COLUMNS = frozenset({"choice_chars", "metrics", "task_version", "metric_info", "groups"})
_CHECKED: set[tuple[Path, int, int]] = set()  # (file, size, mtime) already checked by check_files
# What a run is, fixed when its info is first written: the series (folder or hf://), and for
# averages the series averaged from and the window.
RUN_IDENTITY = ("series", "averaged_from", "window")


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (0-based) of ``count``: a contiguous slice of a task's examples."""

    index: int
    count: int

    @property
    def file_name(self) -> str:
        return f"{self.index + 1:05d}-of-{self.count:05d}.parquet"


FOLDERS = ("records", "aggregates", "runs", "drift", "representations")


class Store:
    """A store folder: per-example records, imported aggregates and run descriptions (the module docstring).

    Everything ckptlens computes starts from ``read`` (records as one Arrow table, long format: one row per
    run, checkpoint, task and example) and ``read_aggregates`` (task-level imports). Both are plain
    ``pyarrow.Table`` objects: ``.to_pandas()``, ``.to_pylist()`` or Arrow compute work on them directly.

    >>> import tempfile
    >>> from ckptlens.store import Store, records_table
    >>> store = Store(tempfile.mkdtemp())
    >>> rows = [{"run": "demo", "checkpoint": f"step{s}", "step": s, "task": "facts", "kind": "multiple_choice",
    ...          "example_id": "q0", "logliks": [-1.0, -2.0], "pred": 0, "gold": 0, "correct": True, "score": 1.0}
    ...         for s in (10, 20)]
    >>> for s in (10, 20):
    ...     _ = store.write_unit("demo", f"step{s}", "facts", records_table([r for r in rows if r["step"] == s]))
    >>> store.runs(), store.tasks("demo"), store.has_unit("demo", "step20", "facts")
    (['demo'], ['facts'], True)
    >>> table = store.read(["demo"], ["facts"], columns=["step", "example_id", "pred", "correct"])
    >>> table.num_rows, table.to_pylist()[1]
    (2, {'step': 20, 'example_id': 'q0', 'pred': 0, 'correct': True})
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        for folder in (self.root, *(self.root / name for name in FOLDERS)):
            if folder.exists() and not folder.is_dir():
                raise CkptlensError(f"store {self.root}: {folder} is a file, not a folder; name another --store")

    def unit_path(self, run: str, checkpoint: str, task: str, shard: Shard | None = None) -> Path:
        """The unit's file, or with ``shard`` the file of that shard of it."""
        unit = self.root / "records" / _safe(run) / _safe(task) / f"{_safe(checkpoint)}.parquet"
        return unit if shard is None else _shards_folder(unit) / shard.file_name

    def has_unit(self, run: str, checkpoint: str, task: str, shard: Shard | None = None) -> bool:
        """Whether the unit (or shard) is finished: how a resumed evaluation skips work."""
        return self.unit_path(run, checkpoint, task, shard).is_file()

    def write_unit(self, run: str, checkpoint: str, task: str, table: pa.Table, shard: Shard | None = None) -> Path:
        """Write one (run, checkpoint, task) unit, or one shard of it, atomically.

        Writing the whole unit removes shards of it left by an interrupted sharded evaluation.
        """
        path = self.unit_path(run, checkpoint, task, shard)
        table = table.cast(RECORD_SCHEMA)
        _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        if shard is None:
            shutil.rmtree(_shards_folder(path), ignore_errors=True)
        return path

    def remove_unit(self, run: str, checkpoint: str, task: str) -> None:
        """Remove a stored unit (and shards of it), so that the next evaluation redoes it."""
        path = self.unit_path(run, checkpoint, task)
        remove(path)
        remove(_shards_folder(path))

    def drop_stale_claim(self, run: str, checkpoint: str, task: str) -> None:
        """Remove the claim of a stored unit left by a writer killed between writing it and releasing the claim."""
        path = claim_path(self.unit_path(run, checkpoint, task))
        try:
            if is_stale(path):
                path.unlink()
        except FileNotFoundError:
            pass

    def merge_shards(self, run: str, checkpoint: str, task: str, count: int) -> Path:
        """Write the unit from its ``count`` shards, in shard order (the task's example order)."""
        shards = [_read_parquet(self.unit_path(run, checkpoint, task, Shard(i, count)), RECORD_SCHEMA)
                  for i in range(count)]
        return self.write_unit(run, checkpoint, task, pa.concat_tables(shards))

    def claim_unit(self, run: str, checkpoint: str, task: str, shard: Shard | None = None) -> Claim | None:
        """Claim the unit (or shard) for this process, or None while another live writer holds it."""
        return try_claim(self.unit_path(run, checkpoint, task, shard))

    def aggregates_path(self, run: str, checkpoint: str) -> Path:
        """The file of one checkpoint's imported task-level results."""
        return self.root / "aggregates" / _safe(run) / f"{_safe(checkpoint)}.parquet"

    def write_aggregates(self, run: str, checkpoint: str, table: pa.Table) -> Path:
        """Write one checkpoint's task-level results atomically (replacing any earlier import)."""
        path = self.aggregates_path(run, checkpoint)
        table = table.cast(AGGREGATE_SCHEMA)
        _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def read_aggregates(self, runs: Iterable[str] | None = None) -> pa.Table:
        """All imported task-level results of the given runs (all when None)."""
        wanted = None if runs is None else {_safe(r) for r in runs}
        files = [
            f
            for run_dir in sorted((self.root / "aggregates").glob("*"))
            if wanted is None or run_dir.name in wanted
            for f in sorted(run_dir.glob("*.parquet"))
            if not f.name.startswith(TMP_PREFIX)
        ]
        if not files:
            return AGGREGATE_SCHEMA.empty_table()
        return pa.concat_tables(pq.read_table(f, schema=AGGREGATE_SCHEMA) for f in check_files(files, AGGREGATE_SCHEMA))

    def write_drift(self, run: str, table: pa.Table) -> Path:
        """Write a run's parameter drift (``records.drift_table``) atomically, replacing an earlier one."""
        path = self.root / "drift" / f"{_safe(run)}.parquet"
        table = table.cast(DRIFT_SCHEMA)
        _atomic_write(path, lambda tmp: pq.write_table(table, tmp))
        return path

    def read_drift(self, run: str) -> pa.Table | None:
        """The run's parameter drift, or None when ``ckptlens drift --store`` never recorded it."""
        path = self.root / "drift" / f"{_safe(run)}.parquet"
        return _read_parquet(path, DRIFT_SCHEMA) if path.is_file() else None

    def write_run_info(self, run: str, info: dict | RunInfo) -> None:
        """Record what ``run`` is; its identity (``RUN_IDENTITY``), once recorded, never changes.

        A second series under a used run name would mix two runs' records, or mark a raw
        run averaged so that stability drops it: refused, with the run named.
        """
        path = self.root / "runs" / f"{_safe(run)}.json"
        info = info.to_dict() if isinstance(info, RunInfo) else info
        _check_identity(run, self.run_info(run), info)
        text = json.dumps({"run": run, **info}, indent=2, sort_keys=True)
        _atomic_write(path, lambda tmp: Path(tmp).write_text(text))

    def relink_run(self, run: str, series: str) -> None:
        """Point ``run`` at ``series``, its series folder after a move (the caller checked it holds the same
        checkpoints: ``evaluation.provenance.relink``); the only way a run's recorded series changes."""
        info = self.run_info(run)
        text = json.dumps({**info, "series": series}, indent=2, sort_keys=True)
        _atomic_write(self.root / "runs" / f"{_safe(run)}.json", lambda tmp: Path(tmp).write_text(text))

    def run_info(self, run: str) -> dict:
        """What ``write_run_info`` recorded for ``run``, or just its name."""
        path = self.root / "runs" / f"{_safe(run)}.json"
        if not path.is_file():
            return {"run": run}
        info = read_json(path, "repair it, or remove it and evaluate the run again")
        if not isinstance(info, dict):
            raise CkptlensError(f"{path} is not a run description (a JSON object); repair or remove it")
        return info

    def info(self, run: str) -> RunInfo:
        """``run_info`` typed (``store.runs.RunInfo``)."""
        return RunInfo.from_dict({**self.run_info(run), "run": run})

    def run_infos(self) -> list[RunInfo]:
        """The typed info of every run with records or imported aggregates."""
        return [self.info(run) for run in self.runs()]

    def base_runs(self) -> list[str]:
        """The runs that are not averages of another series (what raw checkpoints are measured on), sorted."""
        return base_runs(self.run_infos())

    def averaged_runs(self) -> dict[tuple[str, int], str]:
        """(base run, window) -> the run that evaluated that series averaged over ``window`` checkpoints."""
        return averaged_runs(self.run_infos())

    def tasks(self, run: str) -> list[str]:
        """Tasks with per-example records in ``run``."""
        folder = self.root / "records" / _safe(run)
        return sorted(p.name for p in folder.iterdir() if _holds_records(p)) if folder.is_dir() else []

    def runs(self) -> list[str]:
        """Runs with per-example records or imported aggregates; a missing store is an error."""
        if not self.root.is_dir():
            raise CkptlensError(f"store not found: {self.root}; create one with `ckptlens eval ... --store`")
        records, aggregates = self.root / "records", self.root / "aggregates"
        evaluated = {p.name for p in records.glob("*") if any(_holds_records(t) for t in p.glob("*"))}
        imported = {p.name for p in aggregates.glob("*") if p.is_dir()}
        return sorted(evaluated | imported)

    def read(
        self, runs: Iterable[str] | None = None, tasks: Iterable[str] | None = None, columns: list[str] | None = None
    ) -> pa.Table:
        """All records of the given runs and tasks (all when None), in one table; only ``columns`` if given."""
        files = self._unit_files(runs, tasks)
        schema = RECORD_SCHEMA if columns is None else pa.schema([RECORD_SCHEMA.field(c) for c in columns])
        if not files:
            if not self.root.is_dir():
                raise CkptlensError(f"store not found: {self.root}; create one with `ckptlens eval ... --store`")
            return schema.empty_table()
        return ds.dataset(check_files(files), format="parquet", schema=RECORD_SCHEMA).to_table(columns=columns)

    def _unit_files(self, runs: Iterable[str] | None, tasks: Iterable[str] | None) -> list[Path]:
        wanted_runs = None if runs is None else {_safe(r) for r in runs}
        wanted_tasks = None if tasks is None else {_safe(t) for t in tasks}
        files = []
        for run_dir in sorted((self.root / "records").glob("*")):
            if wanted_runs is not None and run_dir.name not in wanted_runs:
                continue
            for task_dir in sorted(run_dir.glob("*")):
                if wanted_tasks is None or task_dir.name in wanted_tasks:
                    files.extend(sorted(task_dir.glob("*.parquet")))
        return [f for f in files if not f.name.startswith(TMP_PREFIX) and f.is_file()]


def _read_parquet(path: Path, schema: pa.Schema) -> pa.Table:
    """A file of the store; one that cannot be read (cut short, not Parquet) is an error naming it."""
    try:
        return pq.read_table(path, schema=schema)
    except (pa.ArrowException, OSError) as error:
        reason = " ".join(str(error).split()).split(". ")[0]
        raise CkptlensError(
            f"{path} is damaged ({reason}); `ckptlens store check --repair` removes it so a rerun redoes it"
        ) from None


def check_files(files: list[Path], schema: pa.Schema = RECORD_SCHEMA) -> list[Path]:
    """``files``, once each is known to be a readable Parquet file of ``schema``; else an error naming it.

    Columns added to a schema later (``OPTIONAL_RECORD_COLUMNS``) may be missing: older
    files read them as null. A file is checked once per change (size and time).
    """
    for path in files:
        stat = path.stat()
        key = (path, stat.st_size, stat.st_mtime_ns)
        if key not in _CHECKED:
            _check_file(path, schema)
            _CHECKED.add(key)
    return files


def _check_file(path: Path, schema: pa.Schema) -> None:
    try:
        found = pq.read_schema(path)
    except (OSError, pa.ArrowException) as err:
        reason = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CkptlensError(
            f"{path} is damaged ({reason}); `ckptlens store check --repair` removes it so a rerun redoes it"
        ) from None
    for field in schema:
        if field.name not in found.names:
            if field.name in OPTIONAL_RECORD_COLUMNS:
                continue
            raise CkptlensError(f"{path} is not a ckptlens file of this kind: it has no column {field.name!r}; "
                                "move it out of the store")
        if found.field(field.name).type != field.type:
            raise CkptlensError(f"{path} is not a ckptlens file of this kind: column {field.name!r} is "
                                f"{found.field(field.name).type}, not {field.type}; move it out of the store")


def _check_identity(run: str, stored: dict, info: dict) -> None:
    """Refuse ``info`` when ``stored`` already fixes the run's series (imported runs have none) to another one."""
    if "series" not in stored:
        return
    changed = [key for key in RUN_IDENTITY if stored.get(key) != info.get(key)]
    if changed:
        key = changed[0]
        raise CkptlensError(
            f"run {run!r} is already {key} {stored.get(key)!r} in this store, not {info.get(key)!r}; "
            "give this series another --run name"
        )


def _safe(name: str) -> str:
    """A name usable as one path component (runs, tasks and checkpoints are user-chosen)."""
    if not name or name in {".", ".."} or "/" in name or "\\" in name or name.startswith(TMP_PREFIX):
        raise CkptlensError(f"invalid name {name!r}: use letters, digits, '-', '_' or '.' without slashes")
    return name


def _holds_records(task_dir: Path) -> bool:
    """Whether a task folder holds a finished unit (not only claims, shards or temporary files)."""
    return task_dir.is_dir() and any(not f.name.startswith(TMP_PREFIX) for f in task_dir.glob("*.parquet"))


def _shards_folder(unit: Path) -> Path:
    return unit.with_name(unit.name.removesuffix(".parquet") + ".shards")


def _atomic_write(path: Path, write) -> None:
    with atomic_path(path) as partial:
        write(partial)
