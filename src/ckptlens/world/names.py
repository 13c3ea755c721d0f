"""Invented, pronounceable names for the entities of the demo world.

Names are built from syllables so that no real-world knowledge leaks in and a
model can only know a fact by having read it in the generated corpus.

>>> import random
>>> len(invent_names(random.Random(0), 5, suffixes=("ia",)))
5
"""

from __future__ import annotations

import random

ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "br", "dr", "gr", "kr", "st", "tr")
VOWELS = ("a", "e", "i", "o", "u", "ai", "ou")
CODAS = ("", "", "", "n", "r", "l", "s", "th")


def _syllable(rng: random.Random) -> str:
    return rng.choice(ONSETS) + rng.choice(VOWELS) + rng.choice(CODAS)


def invent_names(rng: random.Random, count: int, suffixes: tuple[str, ...], taken: set[str] | None = None) -> list[str]:
    """``count`` distinct capitalised names ending in one of ``suffixes``, none in ``taken``.

    ``taken`` is updated, so names drawn for different entity kinds never collide
    (a capital never shares its name with a country or a language).
    """
    taken = set() if taken is None else taken
    names: list[str] = []
    while len(names) < count:
        stem = "".join(_syllable(rng) for _ in range(rng.choice((1, 2, 2))))
        name = (stem + rng.choice(suffixes)).capitalize()
        if name not in taken and 4 <= len(name) <= 12:
            taken.add(name)
            names.append(name)
    return names
