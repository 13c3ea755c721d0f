"""The embedded demo world: invented facts, sums and grammar, a corpus, and built-in tasks.

>>> world = build_world(0)
>>> docs = generate_documents(world, 10)
>>> tasks = builtin_tasks(world)
"""

from functools import cache

from ckptlens.tasks.registry import register_builtin
from ckptlens.world.corpus import answer_words, generate_documents
from ckptlens.world.tasks import BUILTIN_TASK_NAMES, builtin_tasks
from ckptlens.world.world import Country, World, build_world

register_builtin(BUILTIN_TASK_NAMES, cache(lambda seed: builtin_tasks(build_world(seed))))

__all__ = [
    "BUILTIN_TASK_NAMES",
    "Country",
    "World",
    "answer_words",
    "build_world",
    "builtin_tasks",
    "generate_documents",
]
