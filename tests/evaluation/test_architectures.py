"""The scoring engine on five more architectures than the Llama the other tests use.

The engine runs a shared prefix once into a KV cache, packs every choice of an example into one row under a
tree-shaped 4D mask with explicit position ids, and keeps only the scored logits. Each of those touches
something architectures do differently (learned vs rotary positions, OPT's position offset, Gemma's scaled
embeddings and grouped keys, GPT-2's fused attention), so each tiny model, random weights built from its
config, with SDPA and with eager attention, is checked against a direct transformers forward: ctx +
continuation, no cache, no batching, the sum of log-softmax over the continuation tokens.
"""

import pytest
import torch
from transformers import (
    AutoModelForCausalLM,
    GemmaConfig,
    GPT2Config,
    GPTNeoXConfig,
    LlamaConfig,
    OPTConfig,
    Qwen2Config,
)

from ckptlens.evaluation.scoring import score_multiple_choice
from tests.conftest import build_tokenizer
from tests.evaluation.reference import direct_logliks
from tests.evaluation.test_scoring import _examples

SIZE = {"max_position_embeddings": 256, "pad_token_id": 0, "eos_token_id": 1, "bos_token_id": 1}
CONFIGS = {
    "gpt_neox": lambda v: GPTNeoXConfig(vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                        num_attention_heads=4, rotary_pct=0.5, **SIZE),
    "gpt2": lambda v: GPT2Config(vocab_size=v, n_embd=32, n_layer=2, n_head=4, n_positions=256,
                                 pad_token_id=0, eos_token_id=1, bos_token_id=1),
    "qwen2": lambda v: Qwen2Config(vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=2, **SIZE),
    "opt": lambda v: OPTConfig(vocab_size=v, hidden_size=32, ffn_dim=64, num_hidden_layers=2, num_attention_heads=4,
                               word_embed_proj_dim=32, **SIZE),
    "gemma": lambda v: GemmaConfig(vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=1, head_dim=8, **SIZE),
    "llama": lambda v: LlamaConfig(vocab_size=v, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                   num_attention_heads=4, num_key_value_heads=4, **SIZE),
}


@pytest.fixture(scope="module")
def tokenizer():
    return build_tokenizer()


@pytest.mark.parametrize("attention", ["sdpa", "eager"])
@pytest.mark.parametrize("architecture", sorted(CONFIGS))
def test_scores_equal_a_direct_forward(architecture, attention, tokenizer, one_thread):
    torch.manual_seed(0)
    config = CONFIGS[architecture](len(tokenizer))
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32, attn_implementation=attention).eval()
    examples = _examples(6)
    expected = [direct_logliks(model, tokenizer, e) for e in examples]
    for share_prefix in (True, False):
        scores = score_multiple_choice(model, tokenizer, examples, batch_size=4, share_prefix=share_prefix)
        got = [s.logliks for s in scores]
        assert [len(g) for g in got] == [len(e.choices) for e in examples]
        difference = max(abs(a - b) for g, e in zip(got, expected) for a, b in zip(g, e))
        assert difference < 1e-4, (architecture, share_prefix, difference)
        assert model.config._attn_implementation == attention  # the tree attention is the model's for a pass only
    assert len({round(v, 3) for e in expected for v in e}) > len(examples)  # the scores vary: a real model ran
