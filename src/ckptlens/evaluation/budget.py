"""How many tokens a forward pass may hold: the default ``--batch-tokens``.

On CPU it is ``CPU_BATCH_TOKENS``: passes large enough for efficient matrix
products, small enough that their buffers come back from the allocator instead
of being paged in fresh for every pass (60 examples of an 86M-parameter model,
one thread: 13.7 s with 2048 tokens a pass against 16.4 s with 32 whole rows).
On CUDA the budget is what fits in a fraction of the free memory
(``torch.cuda.mem_get_info`` after the model is loaded), with a per-token cost
estimated from the config:

- the KV cache of the pass, with room for a past (shared prefix) up to
  ``PAST_PER_TOKEN`` times as long as the rows themselves;
- activations of one layer at a time (inference frees the others): about
  ``ACTIVATION_WIDTHS`` hidden vectors per token;
- the float32 logits of every kept position (at most every token).

It is an estimate, not a guarantee: pass ``--batch-tokens`` to set it.

Generation has its own default (``generation_batch_tokens``): a decode step runs one token per row, so the CPU
pass size does not apply (it would make every long-context batch a single row); on CUDA the budget is the memory
its KV cache takes, without room for a per-row past (a shared prefix is kept once).
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel

MEMORY_FRACTION = 0.5  # of the free memory, the rest left to the allocator's fragmentation and other processes
PAST_PER_TOKEN = 8  # KV room per row token for its past: a 4-shot prefix is about 8x an example's own tokens
ACTIVATION_WIDTHS = 24  # hidden-size vectors alive per token in one layer (attention, 4x MLP, residual, norms)
MAX_BATCH_TOKENS = 1 << 16  # beyond this, passes are long enough that a larger one gains nothing
CPU_BATCH_TOKENS = 2048  # rows x padded length per pass on CPU


def device_batch_tokens(model: PreTrainedModel) -> int | None:
    """A token budget for one pass: from the free memory on CUDA, ``CPU_BATCH_TOKENS`` on CPU, else none."""
    if model.device.type == "cpu":
        return CPU_BATCH_TOKENS
    if model.device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(model.device)
    return max(1, min(MAX_BATCH_TOKENS, int(MEMORY_FRACTION * free / bytes_per_token(model))))


def generation_batch_tokens(model: PreTrainedModel) -> int | None:
    """A generation batch's budget, rows x (context + new tokens): none on CPU, from the free memory on CUDA."""
    if model.device.type != "cuda":
        return None
    free, _ = torch.cuda.mem_get_info(model.device)
    return max(1, int(MEMORY_FRACTION * free / bytes_per_token(model, past_per_token=0)))


def bytes_per_token(model: PreTrainedModel, past_per_token: int = PAST_PER_TOKEN) -> int:
    """Estimated peak bytes one row token costs in a pass (KV with its past, activations, logits)."""
    config = model.config.get_text_config()
    width = config.hidden_size
    heads = config.num_attention_heads
    kv_heads = getattr(config, "num_key_value_heads", None) or heads
    head_dim = getattr(config, "head_dim", None) or width // heads
    element = torch.finfo(model.dtype).bits // 8
    kv = 2 * config.num_hidden_layers * kv_heads * head_dim * element * (1 + past_per_token)
    return kv + ACTIVATION_WIDTHS * width * element + 4 * config.vocab_size
