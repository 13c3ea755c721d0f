"""The embedded demo world: invented facts, sums and grammar, a corpus, and built-in tasks; its tasks
register with ``tasks`` when the world is used (``register_tasks``), never on ``import ckptlens``.
May import tasks, checkpoints, files, errors.

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
