import re

import pytest

from ckptlens.world import answer_words, build_world, generate_documents

SUM_PATTERNS = (
    re.compile(r"(\d+) \+ (\d+) = (\d+)"),
    re.compile(r"sum of (\d+) and (\d+) is (\d+)"),
    re.compile(r"(\d+) plus (\d+) makes (\d+)"),
)


@pytest.fixture(scope="module")
def world():
    return build_world(0)


@pytest.fixture(scope="module")
def corpus(world):
    return "\n".join(generate_documents(world, 3000))


def test_corpus_is_deterministic(world):
    assert generate_documents(world, 50, seed=1) == generate_documents(world, 50, seed=1)
    assert generate_documents(world, 50, seed=1) != generate_documents(world, 50, seed=2)


def test_every_stated_sum_is_correct_and_seen_in_training(world, corpus):
    stated = [tuple(map(int, m)) for p in SUM_PATTERNS for m in p.findall(corpus)]
    assert len(stated) > 1000
    assert all(a + b == c for a, b, c in stated)
    assert {(a, b) for a, b, _ in stated} <= set(world.train_sums)


def test_frequent_countries_are_mentioned_far_more_than_rare_ones(world, corpus):
    frequent, rare = world.countries[0].name, world.countries[-1].name
    assert corpus.count(f" {frequent}") > 20 * max(corpus.count(f" {rare}"), 1)


def test_every_stated_capital_is_the_right_one(world, corpus):
    capital_of = {c.name: c.capital for c in world.countries}
    stated = re.findall(r"The capital of (\w+) is (\w+)\.", corpus)
    assert stated and all(capital_of[country] == capital for country, capital in stated)


def test_answer_words_cover_every_entity_and_sum(world):
    words = answer_words(world).split()
    assert {"0", "78", world.countries[-1].capital, world.languages[0], "are", "is"} <= set(words)
