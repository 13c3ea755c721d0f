"""The one set of tasks that means over tasks are taken over, when several runs (or methods) are compared.

A mean over tasks is only comparable across runs when every run's mean covers the same tasks: a 70M model
above chance on 4 tasks and a 12B model on 12 would otherwise be compared on different questions (the 12B
mean, pulled down by harder tasks, can fall below a smaller model's). The shared set is the tasks that every
compared run has above chance (``tasks.chance``) with every method the run has elsewhere (a generation task
has no mean-logprob ensemble); ``--tasks`` narrows the candidates to the user's. Tasks near chance are in the
set of no run: their flips are guessing.

>>> from ckptlens.analysis.stability import StabilityRow
>>> def row(run, task, near=False):
...     return StabilityRow(run, task, "c", "raw", 1, 3, 10, 30, None, 0.6, 0.01, None, None, 0.01, 0.02, 0.0,
...                         None, None, 0.25, near)
>>> rows = [row("small", "arc"), row("small", "mmlu", near=True), row("big", "arc"), row("big", "mmlu"),
...         row("big", "piqa")]
>>> shared = shared_tasks(rows)
>>> shared.tasks, shared.left_out["mmlu"], shared.left_out["piqa"]
(('arc',), 'near chance in small', 'not in small')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ckptlens.analysis.stability import StabilityRow
from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class TaskSet:
    """The tasks means are taken over, the runs they are shared by, and why every other task is left out."""

    tasks: tuple[str, ...]
    runs: tuple[str, ...]
    chosen: bool = False  # the user named the candidates (--tasks)
    left_out: dict[str, str] = field(default_factory=dict)  # task -> why, in words

    def near_chance(self) -> list[str]:
        """The tasks left out because some run scores them near chance."""
        return [t for t, why in self.left_out.items() if why.startswith("near chance")]

    def rows(self, rows: Sequence[StabilityRow]) -> list[StabilityRow]:
        """The rows of the set's tasks and runs: what every mean over tasks is computed from."""
        tasks, runs = set(self.tasks), set(self.runs)
        return [r for r in rows if r.task in tasks and r.run in runs]


def shared_tasks(rows: Sequence[StabilityRow], tasks: Sequence[str] | None = None,
                 order: Sequence[str] | None = None) -> TaskSet:
    """The tasks every run of ``rows`` has above chance with every one of its methods (see the module docstring).

    ``tasks``: the user's candidates (``--tasks``); a name no run has is an error naming the tasks there are.
    ``order``: the runs in the order to show them (by size, say); by name when None.
    """
    names = {r.run for r in rows}
    runs = tuple(r for r in order if r in names) if order else tuple(sorted(names))
    present = sorted({r.task for r in rows})
    if tasks:
        unknown = [t for t in tasks if t not in present]
        if unknown:
            raise CkptlensError(f"--tasks {','.join(unknown)}: not in the store; it has {', '.join(present[:12])}"
                                + (" ..." if len(present) > 12 else ""))
    candidates = list(tasks) if tasks else present
    methods_of_run: dict[str, set] = {}
    methods_of_task: dict[tuple[str, str], set] = {}
    near: dict[str, list[str]] = {}
    for r in rows:
        key = (r.method, None if r.method.startswith("adaptive-") else r.window)
        methods_of_run.setdefault(r.run, set()).add(key)
        methods_of_task.setdefault((r.run, r.task), set()).add(key)
        if r.method == "raw" and r.near_chance:
            near.setdefault(r.task, []).append(r.run)
    kept, left_out = [], {t: "not among --tasks" for t in present if t not in candidates}
    for task in candidates:
        missing = [run for run in runs if (run, task) not in methods_of_task]
        partial = [run for run in runs if (run, task) in methods_of_task
                   and methods_of_task[(run, task)] != methods_of_run[run]]
        if task in near:
            left_out[task] = f"near chance in {_runs(near[task], runs)}"
        elif missing:
            left_out[task] = f"not in {_runs(missing, runs)}"
        elif partial:
            left_out[task] = f"lacks a method of {_runs(partial, runs)}"
        else:
            kept.append(task)
    return TaskSet(tuple(kept), runs, bool(tasks), left_out)


def _runs(names: list[str], runs: tuple[str, ...]) -> str:
    if len(runs) > 1 and len(names) == len(runs):
        return "every run"
    return ", ".join(sorted(names))
