"""The decoding cache: rows' own keys written in place, a shared prefix kept once (cascade attention).

Every architecture and path must give the naive loop's text (whole sequence, no cache, one row at a time).
"""

import pytest
import torch
from transformers import GPTNeoXConfig, GPTNeoXForCausalLM, LlamaConfig, LlamaForCausalLM

from ckptlens.evaluation.generation import generate_greedy
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
