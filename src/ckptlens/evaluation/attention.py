"""Swapping a model's attention for one of ckptlens's for the length of a block.

Scoring's prefix tree (``tree_batch.tree_attention``) and generation's row cache
(``shared_prefix.row_attention``) are attention functions registered with
transformers' ``AttentionInterface``; a model whose layers take their attention
from that interface runs them while its config names them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from transformers import PreTrainedModel


@contextmanager
def attending_with(model: PreTrainedModel, name: str) -> Iterator[None]:
    """The model attends with the registered attention ``name`` inside the block, with its own after it (sub-models'
    configs included)."""
    config = model.config
    own = {"": config._attn_implementation}
    own |= {key: getattr(config, key)._attn_implementation for key in getattr(config, "sub_configs", {})
            if getattr(config, key, None) is not None}  # fmt: skip
    config._attn_implementation = name
    try:
        yield
    finally:
        config._attn_implementation = own
