"""Greedy generation: batched equals unbatched equals a naive loop; stop sequences cut the output."""

import random

import pytest
import torch

from ckptlens.checkpoints.loading import load_model
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.generation import cut_at_stop, generate_greedy
from ckptlens.tasks.task import Example

WORDS = "the capital of is what a an and or not yes no one two three red blue green cat dog bird".split()


@pytest.fixture(scope="module")
def lively_model(tiny_series, one_thread):
    """A fixture checkpoint with large random weights: unlike the series it does not just echo its input."""
    model, tokenizer = load_model(tiny_series / "step000030", device="cpu")
    torch.manual_seed(3)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0, 0.5)
    return model, tokenizer


def _examples(n: int) -> list[Example]:
    rng = random.Random(1)
    return [Example(f"g{i}", " ".join(rng.choices(WORDS, k=rng.randint(1, 10))), target="x") for i in range(n)]


def _naive_greedy(model, tokenizer, context: str, max_new_tokens: int) -> str:
    """Reference: full forward of the whole sequence at every step, one example, no cache."""
    ids = tokenizer(context, add_special_tokens=False)["input_ids"]
    generated = []
    for _ in range(max_new_tokens):
        with torch.no_grad():
            token = int(model(input_ids=torch.tensor([ids + generated])).logits[0, -1].argmax())
        if token == tokenizer.eos_token_id:
            break
        generated.append(token)
    return tokenizer.decode(generated, skip_special_tokens=True)


def test_batched_equals_unbatched_equals_naive(lively_model):
    model, tok = lively_model
    examples = _examples(12)
    one = generate_greedy(model, tok, examples, stop=(), max_new_tokens=8, batch_size=1)
    assert generate_greedy(model, tok, examples, stop=(), max_new_tokens=8, batch_size=5) == one
    assert generate_greedy(model, tok, examples, stop=(), max_new_tokens=8, batch_size=32) == one
    assert one == [_naive_greedy(model, tok, e.context, 8) for e in examples]
    assert len(set(one)) > 6  # the outputs really differ between examples


def test_stop_sequence_cuts_output_and_is_excluded(lively_model):
    model, tok = lively_model
    examples = _examples(12)
    full = generate_greedy(model, tok, examples, stop=(), max_new_tokens=8)
    for example, text in zip(examples, full, strict=True):
        words = text.split(" ")
        if len(words) < 3:
            continue
        stop = " " + words[2]
        (cut,) = generate_greedy(model, tok, [example], stop=(stop, "never"), max_new_tokens=8)
        assert cut == text[: text.find(stop)]
        assert stop not in cut


def test_stops_early_when_every_row_has_stopped(lively_model):
    model, tok = lively_model
    calls = []
    hook = model.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        outputs = generate_greedy(model, tok, _examples(6), stop=(" ",), max_new_tokens=16, batch_size=6)
    finally:
        hook.remove()
    assert all(" " not in out for out in outputs)
    assert len(calls) == 2  # one word each: the second token brings the space that stops every row


def test_context_too_long_is_an_error(lively_model):
    model, tok = lively_model
    with pytest.raises(CkptlensError, match="example 'long' needs 250 context \\+ 16 new tokens"):
        generate_greedy(model, tok, [Example("long", "red " * 250, target="x")])


def test_cut_at_stop_uses_earliest_stop():
    assert cut_at_stop("a b\nc.d", (".", "\n")) == ("a b", True)
    assert cut_at_stop("abc", ("\n",)) == ("abc", False)
