"""Prefix tree and token budgets: nested shared prefixes run once, results independent of the batching."""

import random

import pytest
import torch

from ckptlens.evaluation.prefix_tree import needed_tokens, plan_prefixes
from ckptlens.evaluation.scoring import TokenCount, encode_pair, score_multiple_choice
from ckptlens.tasks.choice import predicted_option as argmax_first
from ckptlens.tasks.resolve import resolve_tasks
from ckptlens.tasks.task import Example
from tests.evaluation.reference import direct_logliks

WORDS = "the capital of is what a an and or not yes no one two three red blue green cat dog bird".split()
POOL = [f"Q : what is {a} ? A : {b} . " for a, b in [("red", "blue"), ("one plus two", "three"), ("a cat", "a bird"),
                                                     ("green", "not red")]]  # fmt: skip
HEADER = "the following are questions and answers about red and blue and one and two . "


def _random_shot_examples(n: int, seed: int = 0) -> list[Example]:
    """A header, then 2 demonstrations drawn from a pool of 4 per example (as lm-eval's random sampler)."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        shots = "".join(rng.sample(POOL, 2))
        question = " ".join(rng.choices(WORDS, k=rng.randint(1, 6)))
        choices = tuple(" " + " ".join(rng.choices(WORDS, k=rng.randint(1, 3))) for _ in range(rng.randint(2, 4)))
        examples.append(Example(f"r{i}", f"{HEADER}{shots}Q : {question} ? A :", choices, gold=0))
    return examples


def _passes(model, run) -> list[tuple[int, int]]:
    shapes = []
    hook = model.register_forward_pre_hook(lambda _, a, kw: shapes.append(tuple(kw["input_ids"].shape)),
                                           with_kwargs=True)  # fmt: skip
    try:
        run()
    finally:
        hook.remove()
    return shapes


def test_plan_nests_shared_prefixes():
    contexts = [[1, 2, 3, 4, 5, 6], [1, 2, 3, 4, 5, 7], [1, 2, 3, 8, 9], [1, 2, 3, 8, 10], [20, 21]]
    plan = plan_prefixes(contexts, min_saving=1)
    nodes = [(n.parent, tuple(n.tokens), n.start, n.users) for n in plan.nodes]
    assert nodes[0] == (None, (1, 2, 3), 0, 4)  # parents come first
    assert set(nodes[1:]) == {(0, (4, 5), 3, 2), (0, (8,), 3, 2)}
    starts = dict(zip(map(tuple, contexts), plan.leaf_start, strict=True))
    assert starts[(1, 2, 3, 4, 5, 6)] == 5 and starts[(1, 2, 3, 8, 9)] == 4 and starts[(20, 21)] == 0


def test_small_savings_make_no_node():
    """Two contexts sharing three tokens save 3 < 16: no pass of their own."""
    assert plan_prefixes([[1, 2, 3, 4], [1, 2, 3, 5]]).nodes == []
    assert plan_prefixes([[1, 2, 3, 4], [1, 2, 3, 5]], share=False).leaf_start == [0, 0]


def test_needed_tokens_counts_each_prefix_once():
    assert needed_tokens([[1, 2, 3], [1, 2, 3], [1, 4]]) == 4


def test_random_demonstrations_share_prefixes_at_several_depths(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = _random_shot_examples(24)
    contexts = [encode_pair(tok, e.context, e.choices[0])[0] for e in examples]
    plan = plan_prefixes(contexts)
    assert any(n.parent is not None for n in plan.nodes)  # header, then a shared first demonstration
    count = TokenCount()
    scores = score_multiple_choice(model, tok, examples, batch_size=8, count=count)
    for e, s in zip(examples, scores, strict=True):
        reference = direct_logliks(model, tok, e)
        assert s.logliks == pytest.approx(reference, abs=1e-4)
        assert argmax_first(s.logliks) == argmax_first(reference)
    unshared = TokenCount()
    score_multiple_choice(model, tok, examples, batch_size=8, share_prefix=False, count=unshared)
    assert count.run < 0.6 * unshared.run and count.needed == unshared.needed


@pytest.mark.parametrize("budget", [1, 60, 400])
def test_token_budget_does_not_change_results(model_and_tokenizer, budget):
    model, tok = model_and_tokenizer
    examples = _random_shot_examples(30, seed=1)
    baseline = score_multiple_choice(model, tok, examples, batch_size=64)
    shapes = _passes(model, lambda: score_multiple_choice(model, tok, examples, batch_size=64, batch_tokens=budget))
    scores = score_multiple_choice(model, tok, examples, batch_size=64, batch_tokens=budget)
    for a, b in zip(baseline, scores, strict=True):
        assert a.logliks == pytest.approx(b.logliks, abs=1e-4)
        assert argmax_first(a.logliks) == argmax_first(b.logliks)
    assert all(rows * length <= budget or rows == 1 for rows, length in shapes)


def test_fixed_demonstrations_run_almost_nothing_twice(model_and_tokenizer):
    """On a task with fixed demonstrations, tokens run / tokens that must run stays under 1.1."""
    model, tok = model_and_tokenizer
    rng = random.Random(3)
    examples = [  # questions starting with different words, as real ones mostly do
        Example(f"f{i}", f"{HEADER}{POOL[0]}{POOL[1]}Q : {first} {' '.join(rng.choices(WORDS, k=rng.randint(0, 5)))}"
                f" ? A :", (" yes", " no", f" {first} {rng.choice(WORDS)}"), gold=0)
        for i, first in enumerate(WORDS[:20])
    ]  # fmt: skip
    count = TokenCount()
    score_multiple_choice(model, tok, examples, batch_size=64, batch_tokens=64, count=count)
    assert count.efficiency <= 1.1


def test_built_in_tasks_match_the_reference(model_and_tokenizer):
    model, tok = model_and_tokenizer
    for task in resolve_tasks(["all"]):
        if task.kind != "multiple_choice":
            continue
        examples = task.examples[:6]
        for e, s in zip(examples, score_multiple_choice(model, tok, examples, batch_tokens=256), strict=True):
            reference = direct_logliks(model, tok, e)
            assert s.logliks == pytest.approx(reference, abs=1e-4)
            assert argmax_first(s.logliks) == argmax_first(reference)


def test_a_pass_mixing_rows_with_and_without_a_past_reads_no_stale_memory(model_and_tokenizer, monkeypatch):
    """Rows under a shared header and rows with no past share a pass; the no-past rows' padded past columns are
    masked, but a masked column holding NaN would still poison them (0 x NaN): fresh tensors start as NaN here."""
    model, tok = model_and_tokenizer
    examples = _random_shot_examples(6) + [Example("solo0", "Q : red ? A :", (" blue", " no"), 0),
                                           Example("solo1", "what is a cat ?", (" a bird", " green"), 1)]  # fmt: skip
    real_new_empty = torch.Tensor.new_empty
    monkeypatch.setattr(torch.Tensor, "new_empty",
                        lambda self, *size, **kw: real_new_empty(self, *size, **kw).fill_(float("nan")))  # fmt: skip
    shapes = _passes(model, lambda: score_multiple_choice(model, tok, examples, batch_size=64))
    scores = score_multiple_choice(model, tok, examples, batch_size=64)
    assert shapes[-1][0] == len(examples)  # every example in one pass
    for e, s in zip(examples, scores, strict=True):
        assert s.logliks == pytest.approx(direct_logliks(model, tok, e), abs=1e-4)
