"""Swapping a model's attention for one of ckptlens's for the length of a block.

Scoring's prefix tree (``tree_batch.tree_attention``) and generation's row cache
(``shared_prefix.row_attention``) are attention functions registered with
transformers' ``AttentionInterface``; a model whose layers take their attention
from that interface runs them while its config names them. Each reads what it
needs for the pass (pasts, a cache) from its context variable, set for the block.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TypeVar

from transformers import PreTrainedModel

T = TypeVar("T")


@contextmanager
def attending_with(model: PreTrainedModel, name: str, state: ContextVar[T], value: T) -> Iterator[None]:
    """The model attends with the registered attention ``name``, ``state`` set to ``value``, inside the block; with
    its own attention after it (sub-models' configs included)."""
    token = state.set(value)
    config = model.config
    own = {"": config._attn_implementation}
    own |= {key: getattr(config, key)._attn_implementation for key in getattr(config, "sub_configs", {})
            if getattr(config, key, None) is not None}  # fmt: skip
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = own
        state.reset(token)


def sliding_window(model: PreTrainedModel) -> tuple[int, frozenset[int]] | None:
    """The window some layers attend over and which layers (transformers' ``layer_types``, else all of them), or
    None when every layer sees the whole context. A key is in a query's window when their positions differ by less
    than the window, as transformers' masks count it.

    >>> from transformers import MistralConfig, MistralForCausalLM
    >>> small = dict(vocab_size=32, hidden_size=8, intermediate_size=16, num_hidden_layers=2, num_attention_heads=2)
    >>> sliding_window(MistralForCausalLM(MistralConfig(sliding_window=4, **small)))
    (4, frozenset({0, 1}))
    """
    config = model.config.get_text_config()
    window = getattr(config, "sliding_window", None)
    if window is None:
        return None
    types = getattr(config, "layer_types", None)
    layers = frozenset(i for i, kind in enumerate(types) if kind == "sliding_attention") if types else frozenset(
        range(config.num_hidden_layers))
    return (window, layers) if layers else None
