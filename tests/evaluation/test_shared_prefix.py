"""The decoding cache: rows' own keys written in place, a shared prefix kept once (cascade attention), drafted
tokens checked in one pass (rows then hold different counts).

Every architecture and path must give the naive loop's text (whole sequence, no cache, one row at a time).
"""

import pytest
import torch
from transformers import GPT2Config, GPT2LMHeadModel, GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

from ckptlens.evaluation.generation import cut_at_stop, generate_greedy
from ckptlens.evaluation.shared_prefix import RowCache, SharedPrefix
from ckptlens.evaluation.tree_batch import cache_argument
from tests.conftest import build_tokenizer
from tests.evaluation.test_generation import _examples, _naive_greedy, _shots


def _lively(model):
    """Large random weights, so the text depends on the whole context (not an echo of the input)."""
    torch.manual_seed(5)
    with torch.no_grad():
        for param in model.parameters():
            if param.dim() == 2:
                param.normal_(0, 0.5)
    return model.eval()


def _llama_gqa(vocab: int):
    config = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=1, max_position_embeddings=256,
                         pad_token_id=0, eos_token_id=1, bos_token_id=1)
    return _lively(LlamaForCausalLM(config))


def _gpt_neox(vocab: int):
    config = GPTNeoXConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, max_position_embeddings=256, rotary_pct=0.25,
                           use_parallel_residual=True, eos_token_id=1, bos_token_id=1)
    return _lively(GPTNeoXForCausalLM(config))


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.mark.parametrize("build", [_llama_gqa, _gpt_neox], ids=["llama-grouped-query", "gpt-neox"])
@pytest.mark.parametrize("examples", [_examples(7), _shots(7)], ids=["no-shared-prefix", "shared-prefix"])
def test_row_cache_decoding_equals_the_naive_loop(build, examples, tokenizer, one_thread):
    model = build(len(tokenizer))
    assert SharedPrefix.in_place(model)
    outputs = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=7, batch_size=3)
    assert outputs == [_naive_greedy(model, tokenizer, e.context, 7) for e in examples]
    assert len(set(outputs)) > 3  # the outputs really differ between examples
    assert model.config._attn_implementation == "sdpa"  # the model's own attention is back


def test_models_outside_the_attention_interface_keep_the_plain_cache(tokenizer, one_thread, monkeypatch):
    model = _llama_gqa(len(tokenizer))
    examples = _shots(5)
    in_place = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=6, batch_size=2)
    monkeypatch.setattr(type(model), "_supports_attention_backend", False)
    caches = []
    name = cache_argument(model)
    hook = model.register_forward_pre_hook(lambda _, args, kwargs: caches.append(type(kwargs[name])),
                                           with_kwargs=True)
    try:
        plain = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=6, batch_size=2)
    finally:
        hook.remove()
    assert RowCache not in caches and len(caches) > 1
    assert plain == in_place


def test_a_row_that_stops_leaves_the_row_cache(tokenizer, one_thread):
    model = _gpt_neox(len(tokenizer))
    examples = _shots(6)
    full = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=8)
    stop = full[0].split(" ")[1][:2]  # a string some rows produce early and others later or never
    expected = [text.split(stop)[0] for text in full]
    assert len({len(text) for text in expected}) > 1
    assert generate_greedy(model, tokenizer, examples, stop=(stop,), max_new_tokens=8, batch_size=6) == expected


def test_sliding_window_models_keep_their_own_masks(tokenizer, one_thread):
    """Row attention attends to the whole context, and transformers counts a window in cache slots: a model with a
    window shorter than its contexts runs the plain cache with no shared prefix, and still gives the naive text."""
    from transformers import MistralConfig, MistralForCausalLM

    config = MistralConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                           num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=256,
                           sliding_window=4, eos_token_id=1, bos_token_id=1)
    model = _lively(MistralForCausalLM(config))
    assert not SharedPrefix.in_place(model)
    examples = _shots(5)
    outputs = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=6, batch_size=3)
    assert outputs == [_naive_greedy(model, tokenizer, e.context, 6) for e in examples]
    config.sliding_window = None
    assert SharedPrefix.in_place(MistralForCausalLM(config))


def _looping_gpt2(vocab: int, positions: int):
    """Small random weights: GPT-2 then repeats itself (as early checkpoints do), so drafted tokens hold. Its
    positions are learned: one past the last is an error, not a wrong number."""
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=vocab, n_embd=32, n_layer=2, n_head=4, n_positions=positions, eos_token_id=1,
                        bos_token_id=1)
    return GPT2LMHeadModel(config).eval()


@pytest.mark.parametrize("examples", [_examples(7), _shots(7)], ids=["no-shared-prefix", "shared-prefix"])
def test_drafted_tokens_give_the_naive_text_in_fewer_passes(examples, tokenizer, one_thread, monkeypatch):
    new_tokens = 20
    longest = max(len(tokenizer(e.context, add_special_tokens=False)["input_ids"]) for e in examples)
    model = _looping_gpt2(len(tokenizer), longest + new_tokens)  # the longest row ends on the last position
    passes, reorders = [], []
    keep = RowCache.keep
    monkeypatch.setattr(RowCache, "keep", lambda self, kept: reorders.append(keep(self, kept)) or reorders[-1])
    hook = model.register_forward_pre_hook(lambda *_: passes.append(1))
    try:
        outputs = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=new_tokens, batch_size=4)
    finally:
        hook.remove()
    assert outputs == [_naive_greedy(model, tokenizer, e.context, new_tokens) for e in examples]
    assert len(passes) < 2 * new_tokens * 0.75  # two batches: far fewer passes than tokens
    assert any(order != list(range(len(order))) for order in reorders)  # a row left before a later one
    assert len(set(outputs)) > 3


def test_drafted_tokens_stop_where_the_text_stops(tokenizer, one_thread):
    """A stop sequence or the token limit inside a run of accepted drafts ends the row there."""
    model = _looping_gpt2(len(tokenizer), 128)
    examples = _shots(6)
    full = generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=24)
    assert full == [_naive_greedy(model, tokenizer, e.context, 24) for e in examples]
    repeated = next(word for word in full[0].split(" ")[3:] if word)  # a word the loop repeats
    expected = [cut_at_stop(text, (f"{repeated} {repeated}",))[0] for text in full]
    assert generate_greedy(model, tokenizer, examples, stop=(f"{repeated} {repeated}",), max_new_tokens=24) \
        == expected
    assert generate_greedy(model, tokenizer, examples, stop=(), max_new_tokens=7) == \
        [_naive_greedy(model, tokenizer, e.context, 7) for e in examples]


def test_a_row_leaving_mid_batch_hands_its_place_to_a_later_row(tokenizer, one_thread, monkeypatch):
    """The last row moves into a leaving row's place with its keys: its text is still the naive one."""
    model = _llama_gqa(len(tokenizer))
    examples = _examples(6)
    full = [_naive_greedy(model, tokenizer, e.context, 12) for e in examples]
    moves = []
    keep = RowCache.keep
    monkeypatch.setattr(RowCache, "keep", lambda self, kept: moves.append(keep(self, kept)) or moves[-1])
    for stop in {text.split(" ")[1] for text in full if text.count(" ") > 2}:
        outputs = generate_greedy(model, tokenizer, examples, stop=(stop,), max_new_tokens=12, batch_size=6)
        assert outputs == [cut_at_stop(text, (stop,))[0] for text in full]
    assert any(order != list(range(len(order))) for order in moves)  # a later row did move
