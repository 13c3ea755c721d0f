"""Stored records made from other prompts than a task has now (an edited task file, another importer).

Every record keeps the hash of its prompt (``prompt_hash``): the SHA-256 of
the prompt in 64 hex digits, the same that lm-eval's ``--log_samples`` writes.
Records of one (run, task) made from different prompts must never mix: a
changed prompt is not instability. ``prompt_changes`` compares what the store
holds with the prompts a task has now; the caller refuses, or replaces the
listed units.

Stores written before the full hash was kept hold its first 16 hex digits.
``same_prompt`` compares two hashes on the digits both have (at least 16), so
those records keep lining up with new ones, and a real difference is still
one in the first 16 digits but for a 1 in 2^64 chance.

>>> same_prompt("8dad61487a044e91", "8dad61487a044e91" + "0" * 48), same_prompt("8dad61487a044e91", "8dad6148")
(True, False)

>>> change = PromptChange("run", "facts", ("q1", "q7"), ("step100",))
>>> change.describe()
"run 'run', task 'facts': 2 example(s) differ from the stored records (q1, q7)"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ckptlens.store.store import Store

SHOWN_IDS = 5  # example ids a message names
LEGACY_HASH_CHARS = 16  # hex digits of the SHA-256 that records written before the full hash keep


@dataclass(frozen=True)
class PromptChange:
    run: str
    task: str
    example_ids: tuple[str, ...]  # examples whose prompt changed, or that one side lacks
    checkpoints: tuple[str, ...]  # stored units holding such examples

    def describe(self) -> str:
        shown = ", ".join(self.example_ids[:SHOWN_IDS]) + (" ..." if len(self.example_ids) > SHOWN_IDS else "")
        return (f"run {self.run!r}, task {self.task!r}: {len(self.example_ids)} example(s) differ from the "
                f"stored records ({shown})")


def prompt_changes(
    store: Store, run: str, task: str, hashes: Mapping[str, str | None], same_examples: bool = True
) -> PromptChange | None:
    """What differs between the stored records of ``(run, task)`` and ``hashes`` (example id -> prompt hash).

    An example counts as changed when its stored hash differs, and with
    ``same_examples`` also when the task no longer has it or a stored unit lacks
    it (imports may hold a subset of examples: they pass False). A hash unknown
    on either side (null) is not compared. None when nothing differs or nothing is stored.
    """
    if task not in store.tasks(run):
        return None
    table = store.read([run], [task], ["checkpoint", "example_id", "prompt_hash"])
    stored: dict[str, dict[str, str | None]] = {}
    for checkpoint, example, digest in zip(*(table[c].to_pylist() for c in table.column_names)):
        stored.setdefault(checkpoint, {})[example] = digest
    changed: set[str] = set()
    units: list[str] = []
    for checkpoint, examples in sorted(stored.items()):
        differ = {e for e, h in examples.items() if _differ(h, hashes.get(e, h))}
        if same_examples:
            differ |= set(hashes) ^ set(examples)
        if differ:
            changed |= differ
            units.append(checkpoint)
    if not changed:
        return None
    return PromptChange(run, task, tuple(sorted(changed)), tuple(units))


def same_prompt(a: str, b: str) -> bool:
    """Two prompt hashes agree on the hex digits both have (a 16-digit hash of an older store against a full one)."""
    n = max(LEGACY_HASH_CHARS, min(len(a), len(b)))
    return a[:n] == b[:n]


def _differ(stored: str | None, now: str | None) -> bool:
    return stored is not None and now is not None and not same_prompt(stored, now)
