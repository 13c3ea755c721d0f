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


def _naive_greedy(model, tokenizer, context: str | list[int], max_new_tokens: int) -> str:
    """Reference: full forward of the whole sequence at every step, one example, no cache."""
    ids = tokenizer(context, add_special_tokens=False)["input_ids"] if isinstance(context, str) else context
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


def _shots(n: int) -> list[Example]:
    """Examples behind one fixed few-shot prefix (more than SharedPrefix.MIN_TOKENS tokens)."""
    prefix = "what is red ? blue . what is the cat ? a dog . what is one ? two . "
    return [Example(e.id, prefix + e.context, target="x") for e in _examples(n)]


def test_a_shared_prefix_runs_once_and_changes_no_output(lively_model):
    model, tok = lively_model
    examples = _shots(9)
    lengths = []
    hook = model.register_forward_pre_hook(lambda _, args, kwargs: lengths.append(kwargs["input_ids"].shape),
                                           with_kwargs=True)
    try:
        outputs = generate_greedy(model, tok, examples, stop=(), max_new_tokens=6, batch_size=4)
    finally:
        hook.remove()
    prefix = len(tok(examples[0].context.split("? two . ")[0], add_special_tokens=False)["input_ids"])
    assert lengths[0][0] == 1 and lengths[0][1] >= prefix  # the prefix: one row, once
    assert sum(1 for shape in lengths if shape[1] >= prefix) == 1
    assert outputs == [_naive_greedy(model, tok, e.context, 6) for e in examples]


def test_stop_strings_on_new_tokens_give_what_the_whole_text_gives(lively_model):
    model, tok = lively_model
    examples = _shots(8)
    full = generate_greedy(model, tok, examples, stop=(), max_new_tokens=10)
    for stop in ((" the",), ("e",), (" a", "d"), ("is red",)):
        expected = [cut_at_stop(text, stop)[0] for text in full]
        assert generate_greedy(model, tok, examples, stop=stop, max_new_tokens=10, batch_size=3) == expected


def test_a_token_budget_and_left_truncation_keep_lm_evals_outputs(lively_model):
    model, tok = lively_model
    examples = _shots(6)
    whole = generate_greedy(model, tok, examples, stop=(), max_new_tokens=6)
    assert generate_greedy(model, tok, examples, stop=(), max_new_tokens=6, batch_tokens=60) == whole
    kept = 12  # lm-eval keeps a context's last max_length - max_gen_toks tokens
    truncated = generate_greedy(model, tok, examples, stop=(), max_new_tokens=6, max_context=kept)
    for example, text in zip(examples, truncated, strict=True):
        ids = tok(example.context, add_special_tokens=False)["input_ids"]
        assert len(ids) > kept and text == _naive_greedy(model, tok, ids[-kept:], 6)
