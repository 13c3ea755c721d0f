"""The demo world: invented countries and facts, sums, and a tiny grammar.

Everything is derived from one seed, so a pretraining run and its downstream
tasks can be rebuilt exactly. Countries are mentioned with Zipf-skewed
frequency: frequent facts are learnt early and stay learnt, rare ones are
learnt late and come and go between checkpoints, which is the instability
ckptlens is about.

>>> world = build_world(0)
>>> len(world.countries), world.countries[0].name == build_world(0).countries[0].name
(600, True)
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from ckptlens.world.names import invent_names

N_COUNTRIES = 600  # with 200 every fact saturates early and nothing fluctuates
N_LANGUAGES = 40  # several countries share a language
ZIPF_EXPONENT = 1.3  # mention frequency of the k-th country is proportional to k**-1.3
MAX_ADDEND = 40  # sums a + b with 0 <= a, b < 40
HELD_OUT_SUM_FRACTION = 0.2  # pairs (a, b) never seen in training; the arithmetic task asks these

# (singular, plural) forms; the agreement task needs both of every word.
NOUNS = (
    ("dog", "dogs"),
    ("key", "keys"),
    ("teacher", "teachers"),
    ("farmer", "farmers"),
    ("bird", "birds"),
    ("child", "children"),
    ("horse", "horses"),
    ("singer", "singers"),
    ("boat", "boats"),
    ("cat", "cats"),
    ("doctor", "doctors"),
    ("painting", "paintings"),
)
PLACES = (
    ("tree", "trees"),
    ("house", "houses"),
    ("river", "rivers"),
    ("table", "tables"),
    ("door", "doors"),
    ("garden", "gardens"),
    ("window", "windows"),
    ("bridge", "bridges"),
)
VERBS = (
    ("is", "are"),
    ("was", "were"),
    ("has", "have"),
    ("runs", "run"),
    ("sleeps", "sleep"),
    ("seems", "seem"),
    ("looks", "look"),
    ("stays", "stay"),
)
PREPOSITIONS = ("near", "behind", "beside", "under", "above", "by")


@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    language: str


@dataclass(frozen=True)
class World:
    """All facts of the demo world; ``countries`` is ordered by mention frequency (most frequent first)."""

    seed: int
    countries: tuple[Country, ...]
    languages: tuple[str, ...]
    weights: tuple[float, ...]  # relative mention frequency of each country (Zipf)
    train_sums: tuple[tuple[int, int], ...]
    held_out_sums: tuple[tuple[int, int], ...]

    @property
    def capitals(self) -> tuple[str, ...]:
        return tuple(c.capital for c in self.countries)


def build_world(seed: int) -> World:
    """The demo world for ``seed``; the same seed always gives the same world."""
    rng = random.Random(f"ckptlens-world-{seed}")
    taken: set[str] = set()
    names = invent_names(rng, N_COUNTRIES, ("ia", "land", "stan", "ora", "ica", "esh"), taken)
    capitals = invent_names(rng, N_COUNTRIES, ("burg", "ton", "ville", "grad", "mar", "os", "ay"), taken)
    languages = invent_names(rng, N_LANGUAGES, ("ish", "ese", "ic", "i"), taken)
    countries = tuple(Country(name, capital, rng.choice(languages)) for name, capital in zip(names, capitals))
    train, held_out = _split_sums(rng)
    return World(
        seed=seed,
        countries=countries,
        languages=tuple(languages),
        weights=tuple((rank + 1) ** -ZIPF_EXPONENT for rank in range(N_COUNTRIES)),
        train_sums=train,
        held_out_sums=held_out,
    )


def _split_sums(rng: random.Random) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """All pairs (a, b), a random fifth held out of training so the task tests generalisation."""
    pairs = [(a, b) for a in range(MAX_ADDEND) for b in range(MAX_ADDEND)]
    rng.shuffle(pairs)
    n_held = int(len(pairs) * HELD_OUT_SUM_FRACTION)
    return tuple(sorted(pairs[n_held:])), tuple(sorted(pairs[:n_held]))
