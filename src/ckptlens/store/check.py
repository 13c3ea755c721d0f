"""``ckptlens store check``: what a crash, a full disk or a bad copy left in a store, and its repair.

Three kinds of leftovers: *damaged* files (a record, shard or aggregate file
that does not read as Parquet, e.g. truncated by a copy), *stale claims* (their
writer is gone, see ``claims``), and *temporary* files (``.tmp-*`` files and
``.partial`` folders or files not touched for ``older_than`` seconds: a live
writer's are younger). ``repair`` removes them all, so a rerun of the same
command redoes exactly the damaged units and nothing else. Files of another
schema are *foreign*: they are listed, never removed (they may be a user's).

>>> _ = Path("store/records/demo/capitals/step000010.parquet").write_bytes(b"truncated")
>>> problems = check_store(Store("store"))
>>> [p.name for p in problems.damaged]
['step000010.parquet']
>>> repair_store(problems)
1
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from ckptlens.errors import CkptlensError
from ckptlens.files import remove
from ckptlens.store.claims import CLAIM_SUFFIX, STALE_AFTER_SECONDS, is_stale
from ckptlens.store.records import AGGREGATE_SCHEMA, RECORD_SCHEMA
from ckptlens.store.store import TMP_PREFIX, Store, check_files

PARTIAL_SUFFIX = ".partial"


@dataclass(frozen=True)
class StoreProblems:
    damaged: tuple[Path, ...] = ()  # unreadable Parquet files: removed by repair, redone by a rerun
    foreign: tuple[tuple[Path, str], ...] = ()  # (file, why) of another schema: listed, never removed
    stale_claims: tuple[Path, ...] = ()
    temporary: tuple[Path, ...] = ()

    @property
    def removable(self) -> tuple[Path, ...]:
        return self.damaged + self.stale_claims + self.temporary

    def lines(self) -> list[str]:
        """One line per problem, for the terminal."""
        return [
            *(f"damaged: {p}" for p in self.damaged),
            *(f"foreign: {p} ({why})" for p, why in self.foreign),
            *(f"stale claim: {p}" for p in self.stale_claims),
            *(f"temporary: {p}" for p in self.temporary),
        ]


def check_store(store: Store, older_than: float = STALE_AFTER_SECONDS) -> StoreProblems:
    """List the store's damaged and foreign files, stale claims and leftover temporary files."""
    if not store.root.is_dir():
        raise CkptlensError(f"store not found: {store.root}")
    damaged, foreign = [], []
    for path, schema in _data_files(store.root):
        why = _read_problem(path, schema)
        if why is None:
            continue
        (damaged if why == _DAMAGED else foreign).append((path, why))
    claims = [p for p in sorted(store.root.rglob(f"*{CLAIM_SUFFIX}")) if _stale_claim(p, older_than)]
    return StoreProblems(
        damaged=tuple(p for p, _ in damaged),
        foreign=tuple(foreign),
        stale_claims=tuple(claims),
        temporary=tuple(p for p in sorted(store.root.rglob("*")) if _leftover(p, older_than)),
    )


def repair_store(problems: StoreProblems) -> int:
    """Remove damaged files, stale claims and temporary leftovers; returns how many were removed."""
    for path in problems.removable:
        remove(path)  # a read-only store is "cannot write PATH", never a count of files that were not removed
    return len(problems.removable)


_DAMAGED = "damaged"


def _data_files(root: Path) -> list[tuple[Path, pa.Schema]]:
    """Every finished Parquet file of records (units and shards) and of aggregates, with its schema."""
    records = [p for p in sorted((root / "records").rglob("*.parquet")) if not p.name.startswith(TMP_PREFIX)]
    aggregates = [p for p in sorted((root / "aggregates").rglob("*.parquet")) if not p.name.startswith(TMP_PREFIX)]
    return [(p, RECORD_SCHEMA) for p in records] + [(p, AGGREGATE_SCHEMA) for p in aggregates]


def _read_problem(path: Path, schema: pa.Schema) -> str | None:
    """None for a whole file of ``schema``; ``_DAMAGED`` when it does not read; else why it is foreign."""
    try:
        pq.read_table(path)
    except (OSError, pa.ArrowException):
        return _DAMAGED
    try:
        check_files([path], schema)
    except CkptlensError as err:
        return str(err).split(": ", 1)[-1]
    return None


def _stale_claim(path: Path, older_than: float) -> bool:
    try:
        return is_stale(path, older_than)
    except FileNotFoundError:  # released while we looked
        return False


def _leftover(path: Path, older_than: float) -> bool:
    """A temporary file or partial folder, or a claim renamed for takeover, untouched for ``older_than`` s."""
    name = path.name
    temporary = name.startswith(TMP_PREFIX) or name.endswith(PARTIAL_SUFFIX) or f"{CLAIM_SUFFIX}.stale-" in name
    if not temporary:
        return False
    try:
        return _age(path) >= older_than
    except FileNotFoundError:
        return False


def _age(path: Path) -> float:
    return time.time() - path.stat().st_mtime
