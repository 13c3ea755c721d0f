"""The built-in downstream tasks of the demo world.

Every task asks with a phrasing that never occurs in the training corpus, and
every context is pre-rendered with the same four demonstrations in front, so
the scoring engine can compute that shared prefix once per checkpoint. The
demonstrations are recorded in ``Task.demonstrations``.

>>> from ckptlens.world.world import build_world
>>> [t.name for t in builtin_tasks(build_world(0))] == list(BUILTIN_TASK_NAMES)
True
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ckptlens.tasks.task import Example, Task
from ckptlens.world.corpus import agreement_sentence
from ckptlens.world.world import MAX_ADDEND, Country, World

N_DEMONSTRATIONS = 4
N_EXAMPLES = 200  # per task: enough to see flips, cheap to evaluate for dozens of checkpoints
ASKED_COUNTRIES = 250  # fact tasks ask about the 250 most mentioned countries (from hundreds of mentions to ~10)
CAPITAL_QUESTION = "Q: Which city is the capital of {country}?\nA:"
CAPITAL_OPEN_QUESTION = "Q: What is the capital city of {country}?\nA:"
# "a + b = c" and "a plus b makes c" are in the corpus; this mix of the two never is. A "Q: What is a + b?"
# framing stayed at chance on the default run even though the model adds held-out pairs right in this one.
SUM_QUESTION = "{a} + {b} makes"
AGREEMENT_FRAME = "We saw that {phrase}"


def builtin_tasks(world: World) -> list[Task]:
    """The built-in tasks for ``world``, in the order of ``BUILTIN_TASK_NAMES``."""
    return [BUILDERS[name](world, random.Random(f"ckptlens-task-{world.seed}-{name}")) for name in BUILDERS]


def _few_shot(demos: list[tuple[str, str]], query: str, separator: str = "\n\n") -> str:
    """The demonstrations (question + answer) followed by the query, which ends right before its answer."""
    return separator.join([q + a for q, a in demos] + [query])


def _demo_records(demos: list[tuple[str, str]]) -> tuple[dict, ...]:
    return tuple({"context": q, "answer": a} for q, a in demos)


def _split_countries(world: World, rng: random.Random, n: int) -> tuple[list[Country], list[Country]]:
    """Four demonstration countries and ``n`` other countries to ask about.

    Drawn from the most mentioned countries: the rarest ones are seen only a
    few times and are not learnt by the demo model at all; the ones asked
    about range from learnt early to learnt late and unstably.
    """
    chosen = rng.sample(world.countries[:ASKED_COUNTRIES], N_DEMONSTRATIONS + n)
    return chosen[:N_DEMONSTRATIONS], chosen[N_DEMONSTRATIONS:]


def _options(rng: random.Random, gold: str, pool: list[str], k: int = 4) -> tuple[tuple[str, ...], int]:
    """``k`` distinct continuations (each with a leading space) including ``gold``, and gold's index."""
    options = [gold] + rng.sample([p for p in pool if p != gold], k - 1)
    rng.shuffle(options)
    return tuple(f" {o}" for o in options), options.index(gold)


def capital_choice(world: World, rng: random.Random) -> Task:
    demo_countries, asked = _split_countries(world, rng, N_EXAMPLES)
    demos = [(CAPITAL_QUESTION.format(country=c.name), f" {c.capital}") for c in demo_countries]
    examples = []
    for i, country in enumerate(asked):
        choices, gold = _options(rng, country.capital, list(world.capitals))
        context = _few_shot(demos, CAPITAL_QUESTION.format(country=country.name))
        examples.append(Example(id=f"capital_choice-{i}", context=context, choices=choices, gold=gold))
    return Task(
        name="capital_choice",
        kind="multiple_choice",
        examples=tuple(examples),
        category="knowledge",
        description="Pick the capital of an invented country among four capitals (fact recall, 4-shot).",
        demonstrations=_demo_records(demos),
    )


def capital_recall(world: World, rng: random.Random) -> Task:
    demo_countries, asked = _split_countries(world, rng, N_EXAMPLES)
    demos = [(CAPITAL_OPEN_QUESTION.format(country=c.name), f" {c.capital}") for c in demo_countries]
    examples = tuple(
        Example(
            id=f"capital_recall-{i}",
            context=_few_shot(demos, CAPITAL_OPEN_QUESTION.format(country=c.name)),
            target=f" {c.capital}",
        )
        for i, c in enumerate(asked)
    )
    return Task(
        name="capital_recall",
        kind="generation",
        examples=examples,
        category="knowledge",
        description="Generate the capital of an invented country; exact match (4-shot).",
        stop=("\n",),
        max_new_tokens=3,
        demonstrations=_demo_records(demos),
    )


def _sum_options(rng: random.Random, a: int, b: int) -> tuple[tuple[str, ...], int]:
    """The right sum and three other possible sums; a model that knows roughly how big a + b is gains."""
    return _options(rng, str(a + b), [str(n) for n in range(2 * MAX_ADDEND - 1)])


def sum_choice(world: World, rng: random.Random) -> Task:
    pairs = rng.sample(world.held_out_sums, N_DEMONSTRATIONS + N_EXAMPLES)
    demos = [(SUM_QUESTION.format(a=a, b=b), f" {a + b}") for a, b in pairs[:N_DEMONSTRATIONS]]
    examples = []
    for i, (a, b) in enumerate(pairs[N_DEMONSTRATIONS:]):
        choices, gold = _sum_options(rng, a, b)
        context = _few_shot(demos, SUM_QUESTION.format(a=a, b=b))
        examples.append(Example(id=f"sum_choice-{i}", context=context, choices=choices, gold=gold))
    return Task(
        name="sum_choice",
        kind="multiple_choice",
        examples=tuple(examples),
        category="arithmetic",
        description="Pick a + b among four possible sums, for pairs held out of training (4-shot).",
        demonstrations=_demo_records(demos),
    )


def agreement(world: World, rng: random.Random) -> Task:
    demos = []
    for n in range(N_DEMONSTRATIONS):
        phrase, verb, _wrong = agreement_sentence(rng, 1 + n % 2)
        demos.append((AGREEMENT_FRAME.format(phrase=phrase), f" {verb}."))
    examples = []
    for i in range(N_EXAMPLES):
        phrase, verb, wrong = agreement_sentence(rng, 1 + i % 2)
        choices, gold = _options(rng, verb, [wrong], k=2)
        context = _few_shot(demos, AGREEMENT_FRAME.format(phrase=phrase), separator=" ")
        examples.append(Example(id=f"agreement-{i}", context=context, choices=choices, gold=gold))
    return Task(
        name="agreement",
        kind="multiple_choice",
        examples=tuple(examples),
        category="syntax",
        description="Choose the verb form that agrees with a subject across one or two prepositional phrases (4-shot).",
        demonstrations=_demo_records(demos),
    )


BUILDERS: dict[str, Callable[[World, random.Random], Task]] = {
    "capital_choice": capital_choice,
    "capital_recall": capital_recall,
    "sum_choice": sum_choice,
    "agreement": agreement,
}
BUILTIN_TASK_NAMES: tuple[str, ...] = tuple(BUILDERS)
