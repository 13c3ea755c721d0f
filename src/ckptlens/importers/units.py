"""Importing the samples of one (run, task) across its checkpoints: read, check, then write.

A group is checked whole before anything is written: examples whose prompt
changed between checkpoints of one run cannot be joined (a different prompt is
not instability), and a samples file must hold the task its name says. Groups
are independent, so ``import_lm_eval`` runs them in parallel processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from ckptlens.errors import CkptlensError
from ckptlens.importers.samples import SampleColumns, read_samples
from ckptlens.store import RECORD_SCHEMA, Store, prompt_changes, same_prompt

SHOWN_IDS = 5  # doc_ids an error message names


@dataclass(frozen=True)
class SampleUnit:
    """One samples file and the checkpoint its results file names."""

    path: Path
    run: str
    checkpoint: str
    step: int
    tokens_seen: int | None
    task: str
    dtype: str | None
    task_hashes: dict[str, str]  # from the paired results file: which task each hash belongs to


@dataclass(frozen=True)
class GroupResult:
    run: str
    task: str
    records: int
    checkpoints: int
    warnings: tuple[str, ...]


def import_group(store_root: str, units: list[SampleUnit]) -> GroupResult:
    """Read every checkpoint's samples of one (run, task), check them, then write one store unit each."""
    units = sorted(units, key=lambda u: u.step)
    reference: dict[str, str | None] = {}
    tables, warnings = [], []
    for unit in units:
        columns = read_samples(unit.path)
        _check_finite(unit, columns)
        warnings += _task_hash_warnings(unit, columns)
        _check_prompts(unit, columns.prompts(), reference, units[0].checkpoint)
        if columns.disagreements:
            warnings.append(f"{unit.path}: {columns.disagreements} examples' correctness differs from lm-eval's acc "
                            "(ties or an unusual target); records follow the log-likelihoods")
        tables.append(records_of(unit, columns))
    store = Store(store_root)
    _check_stored_prompts(store, units[0], reference)
    for unit, table in zip(units, tables, strict=True):
        store.write_unit(unit.run, unit.checkpoint, unit.task, table)
    return GroupResult(units[0].run, units[0].task, sum(t.num_rows for t in tables), len(units), tuple(warnings))


def records_of(unit: SampleUnit, columns: SampleColumns) -> pa.Table:
    """The store's record table of one samples file: constant columns repeated, per-example ones as read."""
    n = len(columns)
    constant = {
        "run": unit.run, "checkpoint": unit.checkpoint, "step": unit.step, "tokens_seen": unit.tokens_seen,
        "task": unit.task, "category": None, "kind": columns.kind, "dtype": unit.dtype,
    }
    per_example = columns.columns
    arrays = []
    for column in RECORD_SCHEMA:  # columns lm-eval has no value for (e.g. perplexity counts) stay null
        values = per_example[column.name] if column.name in per_example else constant.get(column.name)
        if isinstance(values, pa.Array):
            arrays.append(values.cast(column.type))
        else:
            arrays.append(pa.nulls(n, column.type) if values is None else pa.array([values] * n, column.type))
    return pa.Table.from_arrays(arrays, schema=RECORD_SCHEMA)


def _task_hash_warnings(unit: SampleUnit, columns: SampleColumns) -> list[str]:
    """lm-eval's results record a hash of each task's samples; a file holding another task's samples is an error."""
    expected = unit.task_hashes.get(unit.task)
    if not expected or expected == columns.task_hash:
        return []
    owner = next((task for task, digest in unit.task_hashes.items() if digest == columns.task_hash), None)
    if owner is not None:
        raise CkptlensError(f"{unit.path} holds the samples of task {owner!r}, not {unit.task!r} as its name says "
                            "(task hashes in the results file); rename or remove it")
    return [f"{unit.path}: its samples do not match the hash the results file records for {unit.task!r}; "
            "it may come from another lm-eval run"]


def _check_finite(unit: SampleUnit, columns: SampleColumns) -> None:
    """Refuse NaN or infinite log-likelihoods: stored, they would be scored (a NaN row picks option 0)."""
    logliks = columns.columns.get("logliks")
    if logliks is None or len(logliks) == 0:
        return
    values = pc.list_flatten(logliks)
    bad = pc.invert(pc.is_finite(values))
    if pc.any(bad).as_py():
        rows = pc.list_parent_indices(logliks).filter(bad)
        example = columns.columns["example_id"][rows[0].as_py()].as_py()
        raise CkptlensError(f"{unit.path}: non-finite log-likelihoods (doc_id {example}, checkpoint "
                            f"{unit.checkpoint}); the model's weights or dtype overflowed: re-run lm-eval on it")


def _check_stored_prompts(store: Store, unit: SampleUnit, prompts: dict[str, str | None]) -> None:
    """Refuse samples whose prompts differ from records the store already holds for the run and task.

    Those may be an earlier import or native records: either way the two sets of prompts must not mix.
    """
    change = prompt_changes(store, unit.run, unit.task, prompts, same_examples=False)
    if change is not None:
        raise CkptlensError(
            f"{change.describe()} (prompt_hash of {unit.path.name}); different prompts are not instability: "
            f"import into another --run, or remove {store.root / 'records' / unit.run / unit.task} first"
        )


def _changed(first: str | None, now: str | None) -> bool:
    """A hash that differs from the first checkpoint's (``same_prompt``), or is missing on one side only."""
    return first != now if first is None or now is None else not same_prompt(first, now)


def _check_prompts(unit: SampleUnit, prompts: dict[str, str | None], reference: dict, first: str) -> None:
    """Join only examples whose prompt is the same at every checkpoint; ``reference`` fills from the first."""
    if not reference:
        reference.update(prompts)
        return
    changed = [i for i, h in prompts.items() if _changed(reference.setdefault(i, h), h)]
    if changed:
        raise CkptlensError(
            f"run {unit.run!r}, task {unit.task!r}: the prompt of doc_ids {', '.join(changed[:SHOWN_IDS])}"
            f"{' ...' if len(changed) > SHOWN_IDS else ''} ({len(changed)} in all) differs between {first} and "
            f"{unit.checkpoint} (prompt_hash); different prompts are not instability: import them as separate runs"
        )
