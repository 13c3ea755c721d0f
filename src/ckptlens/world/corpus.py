"""The pretraining corpus of the demo world: documents as plain strings.

Facts are stated in several sentence templates, so a model must learn the
fact rather than one string; the built-in tasks then ask with phrasings that
never occur here (``ckptlens.world.tasks``). Held-out sums never occur here
in any form.

>>> from ckptlens.world.world import build_world
>>> docs = generate_documents(build_world(0), 3)
>>> len(docs), all(isinstance(d, str) and d for d in docs)
(3, True)
"""

from __future__ import annotations

import random
from collections.abc import Callable

from ckptlens.world.world import MAX_ADDEND, NOUNS, PLACES, PREPOSITIONS, VERBS, Country, World

CAPITAL_TEMPLATES = (
    "The capital of {country} is {capital}.",
    "{capital} is the capital of {country}.",
    "The city of {capital} is the capital of {country}.",
    "In {country}, the capital is {capital}.",
    "{country} has its capital in {capital}.",
    "Many people from {country} live in {capital}.",
)
LANGUAGE_TEMPLATES = (
    "People in {country} speak {language}.",
    "The language of {country} is {language}.",
    "In {country}, most people speak {language}.",
)
QUESTIONS = (
    "Q: What language is spoken in {country}?\nA: {language}",
    "Q: Which language do people in {country} speak?\nA: {language}",
    "Q: What city is the capital of {country}?\nA: {capital}",
    "Q: Name the capital of {country}.\nA: {capital}",
)
SUM_TEMPLATES = (
    "{a} + {b} = {c}",
    "The sum of {a} and {b} is {c}.",
    "{a} plus {b} makes {c}.",
)
AGREEMENT_ENDINGS = ("today", "again", "here", "there", "now", "still")
FILLER_SUBJECTS = ("we", "they", "the people", "my friend", "the old man", "a woman", "the children")
FILLER_VERBS = ("saw", "found", "liked", "made", "wanted", "heard", "knew")
FILLER_OBJECTS = ("a letter", "the road", "some bread", "a song", "the answer", "a small box", "the news")
FILLER_TIMES = ("in the morning", "after dinner", "last year", "at night", "on the way home", "every day")
FILLER_CLAUSES = ("it was cold", "it was late", "nothing had changed", "it was over", "someone was there")

# Share of each kind of document in the corpus.
DOCUMENT_MIX = {"facts": 0.40, "questions": 0.10, "sums": 0.36, "agreement": 0.06, "filler": 0.08}


def generate_documents(world: World, n_documents: int, seed: int = 0) -> list[str]:
    """``n_documents`` documents drawn from the world's document mix, deterministic in (world, seed)."""
    rng = random.Random(f"ckptlens-corpus-{world.seed}-{seed}")
    kinds = list(DOCUMENT_MIX)
    shares = [DOCUMENT_MIX[k] for k in kinds]
    return [WRITERS[rng.choices(kinds, shares)[0]](world, rng) for _ in range(n_documents)]


def answer_words(world: World) -> str:
    """Every answer word of the world (names, numbers, verb forms), each after a space.

    Added to the tokenizer's training text so that every answer is one known
    token even when a rare fact never made it into a small corpus.
    """
    names = [w for c in world.countries for w in (c.name, c.capital)] + list(world.languages)
    numbers = [str(n) for n in range(2 * MAX_ADDEND - 1)]
    verbs = [form for pair in VERBS for form in pair]
    return "".join(f" {w}" for w in names + numbers + verbs)


def _sample_countries(world: World, rng: random.Random, k: int) -> list[Country]:
    return rng.choices(world.countries, weights=world.weights, k=k)


def _fact_document(world: World, rng: random.Random) -> str:
    sentences = []
    for country in _sample_countries(world, rng, rng.randint(3, 7)):
        if rng.random() < 0.75:
            template = rng.choice(CAPITAL_TEMPLATES)
        else:
            template = rng.choice(LANGUAGE_TEMPLATES)
        sentences.append(template.format(country=country.name, capital=country.capital, language=country.language))
    return " ".join(sentences)


def _question_document(world: World, rng: random.Random) -> str:
    """Question/answer pairs in a few fixed phrasings; the built-in tasks ask with other phrasings."""
    pairs = [
        rng.choice(QUESTIONS).format(country=c.name, capital=c.capital, language=c.language)
        for c in _sample_countries(world, rng, rng.randint(2, 5))
    ]
    return "".join(pair + "\n\n" for pair in pairs)


def _sum_document(world: World, rng: random.Random) -> str:
    lines = []
    for a, b in rng.choices(world.train_sums, k=rng.randint(4, 10)):
        lines.append(rng.choice(SUM_TEMPLATES).format(a=a, b=b, c=a + b))
    return "\n".join(lines)


def agreement_sentence(rng: random.Random, n_phrases: int) -> tuple[str, str, str]:
    """A subject followed by ``n_phrases`` prepositional phrases, and the verb forms (right, wrong) after it.

    The nouns inside the prepositional phrases usually differ in number from
    the subject ("attractors"), so getting agreement right needs the real subject.
    """
    noun, verb = rng.choice(NOUNS), rng.choice(VERBS)
    plural = rng.random() < 0.5
    phrase = f"the {noun[plural]}"
    for _ in range(n_phrases):
        place_plural = not plural if rng.random() < 0.7 else plural
        phrase += f" {rng.choice(PREPOSITIONS)} the {rng.choice(PLACES)[place_plural]}"
    return phrase, verb[plural], verb[not plural]


def _agreement_document(world: World, rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 7)):
        phrase, verb, _wrong = agreement_sentence(rng, rng.choice((1, 2)))
        sentences.append(f"{phrase[0].upper()}{phrase[1:]} {verb} {rng.choice(AGREEMENT_ENDINGS)}.")
    return " ".join(sentences)


def _filler_document(world: World, rng: random.Random) -> str:
    sentences = []
    for _ in range(rng.randint(3, 6)):
        if rng.random() < 0.3:
            sentences.append(f"{rng.choice(FILLER_SUBJECTS)} saw that {rng.choice(FILLER_CLAUSES)}.")
        else:
            parts = (rng.choice(FILLER_SUBJECTS), rng.choice(FILLER_VERBS), rng.choice(FILLER_OBJECTS))
            sentences.append(f"{' '.join(parts)} {rng.choice(FILLER_TIMES)}.")
    return " ".join(s[0].upper() + s[1:] for s in sentences)


WRITERS: dict[str, Callable[[World, random.Random], str]] = {
    "facts": _fact_document,
    "questions": _question_document,
    "sums": _sum_document,
    "agreement": _agreement_document,
    "filler": _filler_document,
}
