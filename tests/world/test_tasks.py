import re

import pytest

from ckptlens.tasks.task_file import load_task, save_task
from ckptlens.world import BUILTIN_TASK_NAMES, build_world, builtin_tasks, generate_documents
from ckptlens.world.tasks import N_DEMONSTRATIONS


@pytest.fixture(scope="module")
def world():
    return build_world(0)


@pytest.fixture(scope="module")
def tasks(world):
    return builtin_tasks(world)


@pytest.fixture(scope="module")
def corpus(world):
    return "\n".join(generate_documents(world, 4000))


def _query(task, example) -> str:
    """The part of a context after its demonstrations: the question actually asked."""
    last_demo = task.demonstrations[-1]["context"] + task.demonstrations[-1]["answer"]
    return example.context.split(last_demo, 1)[1].lstrip()


def _shared_prefix(task) -> str:
    first = task.examples[0].context
    n = 0
    while all(len(e.context) > n and e.context[n] == first[n] for e in task.examples):
        n += 1
    return first[:n]


def test_tasks_are_named_deterministic_and_cover_several_categories(world, tasks):
    assert tuple(t.name for t in tasks) == BUILTIN_TASK_NAMES
    assert builtin_tasks(build_world(0)) == tasks
    assert {"knowledge", "arithmetic", "syntax"} <= {t.category for t in tasks}
    assert {t.kind for t in tasks} == {"multiple_choice", "generation"}


def test_tasks_round_trip_through_the_task_file_format(tasks, tmp_path):
    for task in tasks:
        assert load_task(save_task(task, tmp_path)) == task


def test_examples_are_well_formed(tasks):
    for task in tasks:
        assert 200 <= len(task.examples) <= 300
        assert len({e.id for e in task.examples}) == len(task.examples)
        for e in task.examples:
            assert not e.context.endswith(" ")
            if task.kind == "multiple_choice":
                assert 0 <= e.gold < len(e.choices)
                assert len(set(e.choices)) == len(e.choices)
                assert all(c.startswith(" ") and " " not in c[1:] for c in e.choices)
            else:
                assert e.target.startswith(" ") and task.stop == ("\n",)


def test_fact_and_sum_tasks_have_four_choices(tasks):
    by_name = {t.name: t for t in tasks}
    for name in ("capital_choice", "sum_choice"):
        assert {len(e.choices) for e in by_name[name].examples} == {4}
        assert by_name[name].chance == pytest.approx(0.25)


def test_every_context_starts_with_the_recorded_demonstrations(tasks):
    for task in tasks:
        assert len(task.demonstrations) == N_DEMONSTRATIONS
        prefix = _shared_prefix(task)
        for demo in task.demonstrations:
            assert demo["context"] + demo["answer"] in prefix


def test_gold_answers_are_right(world, tasks):
    capital_of = {c.name: c.capital for c in world.countries}
    by_name = {t.name: t for t in tasks}
    for e in by_name["capital_choice"].examples:
        country = re.search(r"capital of (\w+)\?\nA:$", e.context).group(1)
        assert e.choices[e.gold] == f" {capital_of[country]}"
    for e in by_name["sum_choice"].examples:
        a, b = map(int, re.search(r"(\d+) \+ (\d+) makes$", e.context).groups())
        assert int(e.choices[e.gold]) == a + b
        assert (a, b) in set(world.held_out_sums)


def test_task_phrasings_never_occur_in_the_training_corpus(tasks, corpus):
    for task in tasks:
        for demo in task.demonstrations:
            assert demo["context"] not in corpus
        for e in task.examples[:50]:
            assert _query(task, e) not in corpus
    for frame in ("Which city is the capital", "What is the capital city", "We saw that the"):
        assert frame not in corpus
    assert not re.search(r"\d+ \+ \d+ makes", corpus)
