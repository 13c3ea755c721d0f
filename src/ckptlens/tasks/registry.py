"""The registry of built-in task sets: names a user can give to ``--tasks`` without a file.

A package that ships tasks registers them here (the demo world does when it is used:
``world.register_tasks``, called before names are resolved; never on ``import ckptlens``),
so ``tasks`` needs to know nothing of where they come from. A set
is built from the series' seed, because the demo world's facts depend on it.

>>> from ckptlens.tasks.task import Task
>>> register_builtin(("toy",), lambda seed: [Task("toy", "generation", ())])
>>> "toy" in builtin_names()
True
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from ckptlens.tasks.task import Task

BuildTasks = Callable[[int], Sequence[Task]]
"""Builds a registered set's tasks for a seed."""

_BUILTINS: dict[str, BuildTasks] = {}


def register_builtin(names: Sequence[str], build: BuildTasks) -> None:
    """Make ``names`` resolvable by name; ``build(seed)`` returns (at least) those tasks."""
    for name in names:
        _BUILTINS[name] = build


def builtin_names() -> tuple[str, ...]:
    """Every registered built-in task name, in registration order."""
    return tuple(_BUILTINS)


def build_builtin(name: str, seed: int) -> Task:
    """The built-in task ``name`` for ``seed``."""
    return next(t for t in _BUILTINS[name](seed) if t.name == name)
