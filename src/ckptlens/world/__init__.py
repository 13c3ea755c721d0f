"""The embedded demo world: invented facts, sums and grammar, a corpus, and built-in tasks.

Owns the synthetic world and its tasks; imports only ``tasks`` (its ``Task`` model and registry).
Its tasks become built-in ``--tasks`` names when the world is used (importing this package, or
``register_tasks()`` called by the demo and by evaluation before resolving names), never on ``import ckptlens``.

>>> world = build_world(0)
>>> docs = generate_documents(world, 10)
>>> tasks = builtin_tasks(world)
"""

from functools import cache

from ckptlens.tasks.registry import register_builtin
from ckptlens.world.corpus import answer_words, generate_documents
from ckptlens.world.tasks import BUILTIN_TASK_NAMES, builtin_tasks
from ckptlens.world.world import Country, World, build_world


def register_tasks() -> None:
    """Make the world's tasks resolvable by name (``--tasks capital_choice``, ``all``); calling it again is a no-op."""
    register_builtin(BUILTIN_TASK_NAMES, _world_tasks)


@cache
def _world_tasks(seed: int):
    return builtin_tasks(build_world(seed))


register_tasks()  # importing the world is using it

__all__ = [
    "BUILTIN_TASK_NAMES",
    "Country",
    "World",
    "answer_words",
    "build_world",
    "builtin_tasks",
    "generate_documents",
    "register_tasks",
]
