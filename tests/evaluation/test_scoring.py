"""The multiple-choice engine: lm-eval's boundary rule, parity with a naive reference, batch invariance."""

import random

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.prefix_tree import plan_prefixes
from ckptlens.evaluation.scoring import encode_pair, score_multiple_choice, split_boundary
from ckptlens.tasks.task import Example
from tests.evaluation.reference import direct_logliks

WORDS = "the capital of is what a an and or not yes no one two three red blue green cat dog bird".split()
SHOTS = "Q : what is red ? A : blue . Q : what is one plus two ? A : three . "


def _examples(n: int, shots: str = SHOTS, seed: int = 0) -> list[Example]:
    """Few-shot examples with 1..4 multi-token choices; odd ones end their context with a space."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        question = " ".join(rng.choices(WORDS, k=rng.randint(1, 8)))
        context = f"{shots}Q : {question} ? A :" + (" " if i % 2 else "")
        choices = tuple(" " + " ".join(rng.choices(WORDS, k=rng.randint(1, 4))) for _ in range(rng.randint(1, 4)))
        examples.append(Example(f"ex{i}", context, choices, gold=0))
    return examples


def _max_difference(a, b) -> float:
    return max(abs(x - y) for sa, sb in zip(a, b, strict=True) for x, y in zip(sa.logliks, sb.logliks, strict=True))


def test_split_boundary_moves_trailing_whitespace():
    assert split_boundary("Q: 2+2?\nA: ", "4") == ("Q: 2+2?\nA:", " 4")
    assert split_boundary("A:\n\n", "x") == ("A:", "\n\nx")
    assert split_boundary("A:", " x") == ("A:", " x")


def _byte_level_tokenizer() -> PreTrainedTokenizerFast:
    """A tiny byte-level BPE, where ' Paris' and 'Paris' are different tokens (like GPT-2)."""
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300, special_tokens=["<eos>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(["Q: capital of France? A: Paris. Q: capital of Italy? A: Rome."] * 20, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<eos>")


def test_encode_pair_follows_lm_eval_boundary():
    tok = _byte_level_tokenizer()

    def encode(text):
        return tok(text, add_special_tokens=False)["input_ids"]

    ctx, cont = encode_pair(tok, "Q: capital of France? A: ", "Paris")
    assert (ctx, cont) == encode_pair(tok, "Q: capital of France? A:", " Paris")
    assert ctx == encode("Q: capital of France? A:")
    whole = encode("Q: capital of France? A: Paris")
    assert ctx + cont == whole and cont == whole[len(ctx) :]
    assert tok.decode(cont) == " Paris"


def test_empty_context_stands_on_eos(model_and_tokenizer):
    _, tok = model_and_tokenizer
    ctx, cont = encode_pair(tok, "", "red blue")
    assert ctx == [tok.eos_token_id] and len(cont) == 2


def _shared(contexts) -> list[int]:
    """Length of the prefix each context continues from a shared node (every sharing counts here)."""
    return plan_prefixes(contexts, min_saving=1).leaf_start


def test_shared_prefix_keeps_one_own_token():
    assert _shared([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]]) == [2, 2, 2]
    assert _shared([[1, 2], [1, 2]]) == [1, 1]
    assert _shared([[7], [7, 8]]) == [0, 0]
    assert _shared([[1, 2, 3]]) == [0]


def test_matches_naive_reference(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = _examples(12)
    scores = score_multiple_choice(model, tok, examples, batch_size=8)
    reference = [direct_logliks(model, tok, e) for e in examples]
    for s, ref, e in zip(scores, reference, examples, strict=True):
        assert s.logliks == pytest.approx(ref, abs=1e-4)
        assert s.n_tokens == [len(encode_pair(tok, e.context, c)[1]) for c in e.choices]


def test_batch_size_does_not_change_logliks(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = _examples(40)
    by_size = {size: score_multiple_choice(model, tok, examples, batch_size=size) for size in (1, 8, 64)}
    assert _max_difference(by_size[1], by_size[8]) < 1e-4
    assert _max_difference(by_size[1], by_size[64]) < 1e-4


def test_shared_prefix_cache_gives_the_same_logliks(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = _examples(20)
    cached = score_multiple_choice(model, tok, examples, batch_size=16)
    uncached = score_multiple_choice(model, tok, examples, batch_size=16, share_prefix=False)
    assert _max_difference(cached, uncached) < 1e-4


def test_shared_prefix_runs_once(model_and_tokenizer):
    """The demonstrations are fed once; every batch after that only holds the examples' own tokens."""
    model, tok = model_and_tokenizer
    examples = _examples(16)
    lengths = []
    hook = model.register_forward_pre_hook(lambda _, args, kw: lengths.append(kw["input_ids"].shape), with_kwargs=True)
    try:
        score_multiple_choice(model, tok, examples, batch_size=4)
    finally:
        hook.remove()
    prefix = len(tok(SHOTS + "Q :", add_special_tokens=False)["input_ids"])
    assert lengths[0] == (1, prefix)
    assert all(shape[1] < prefix for shape in lengths[1:])


def test_examples_without_shared_prefix(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = _examples(10, shots="")
    scores = score_multiple_choice(model, tok, examples, batch_size=3)
    for s, e in zip(scores, examples, strict=True):
        assert s.logliks == pytest.approx(direct_logliks(model, tok, e), abs=1e-4)


def test_empty_choice_list_is_an_error(model_and_tokenizer):
    model, tok = model_and_tokenizer
    with pytest.raises(CkptlensError, match="example 'bad' has no choices"):
        score_multiple_choice(model, tok, [Example("bad", "Q : red ? A :", ())])


def test_context_longer_than_the_model_is_an_error(model_and_tokenizer):
    model, tok = model_and_tokenizer
    too_long = Example("long", "red " * 300, (" blue",), gold=0)
    with pytest.raises(CkptlensError, match="example 'long' needs 300 tokens, more than the model's 256 positions"):
        score_multiple_choice(model, tok, [too_long])


def _input_shapes(model, run):
    shapes = []
    hook = model.register_forward_pre_hook(lambda _, args, kw: shapes.append(kw["input_ids"].shape), with_kwargs=True)
    try:
        run()
    finally:
        hook.remove()
    return shapes


def test_each_context_runs_once_whatever_its_choices(model_and_tokenizer):
    """One pass for the shared prefix, then one row per example: own context + each choice but its last token."""
    model, tok = model_and_tokenizer
    examples = _examples(9)
    shapes = _input_shapes(model, lambda: score_multiple_choice(model, tok, examples, batch_size=64))
    contexts = [encode_pair(tok, e.context, e.choices[0])[0] for e in examples]
    (shared,) = set(plan_prefixes(contexts).leaf_start)
    tails = [sum(len(encode_pair(tok, e.context, c)[1]) - 1 for c in e.choices) for e in examples]
    assert shapes == [(1, shared), (len(examples), max(len(c) for c in contexts) - shared + max(tails))]


def test_single_token_choices_add_no_tokens(model_and_tokenizer):
    model, tok = model_and_tokenizer
    examples = [
        Example(f"s{i}", f"{SHOTS}Q : what is {w} ? A :", (" red", " blue", " cat"), gold=0)
        for i, w in enumerate(["one", "two", "three", "dog"])
    ]
    shapes = _input_shapes(model, lambda: score_multiple_choice(model, tok, examples, batch_size=8))
    assert len(shapes) == 2 and shapes[1][1] == 4  # own context "W ? A :", nothing for the choices
    for e, s in zip(examples, score_multiple_choice(model, tok, examples), strict=True):
        assert s.logliks == pytest.approx(direct_logliks(model, tok, e), abs=1e-4)


def test_batches_hold_at_most_batch_size_rows(model_and_tokenizer):
    """Memory follows batch_size: no forward pass (hence no cache) spans more rows than that."""
    model, tok = model_and_tokenizer
    shapes = _input_shapes(model, lambda: score_multiple_choice(model, tok, _examples(50), batch_size=4))
    assert max(shape[0] for shape in shapes) <= 4
    assert len(shapes) > 50 / 4


def test_tokenizer_without_pad_token(model_and_tokenizer):
    model, tok = model_and_tokenizer
    no_pad = type(tok)(tokenizer_object=tok.backend_tokenizer, eos_token="<eos>", unk_token="<unk>")
    assert no_pad.pad_token is None
    examples = _examples(6)
    with_pad = score_multiple_choice(model, tok, examples, batch_size=4)
    assert _max_difference(score_multiple_choice(model, no_pad, examples, batch_size=4), with_pad) < 1e-6


@pytest.mark.parametrize("layer_types", [None, ["sliding_attention", "full_attention"]], ids=["all", "mixed"])
def test_sliding_window_layers_score_as_the_model_does(layer_types, one_thread):
    """A 4-token window: the prefix tree's mask keeps it on the sliding layers only (contexts far longer than it,
    shared demonstrations, several options)."""
    import torch
    from transformers import Qwen3Config, Qwen3ForCausalLM

    from tests.conftest import build_tokenizer

    tokenizer = build_tokenizer()
    config = Qwen3Config(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, head_dim=8, max_position_embeddings=256,
                         use_sliding_window=True, sliding_window=4, max_window_layers=0, layer_types=layer_types)
    torch.manual_seed(0)
    model = Qwen3ForCausalLM(config).eval()
    shots = "what is red ? blue . what is the cat ? a dog . what is one ? two . "
    examples = [Example(f"w{i}", shots + f"what is {word} ?", choices=(" red", " the cat dog", " one two"), gold=0)
                for i, word in enumerate(["the dog", "one", "blue cat", "red"])]
    for example, scores in zip(examples, score_multiple_choice(model, tokenizer, examples, batch_size=3),
                               strict=True):
        assert scores.logliks == pytest.approx(direct_logliks(model, tokenizer, example), abs=1e-4)
