"""The KV cache of greedy decoding: a shared prefix kept once, each row's own keys written in place.

A generation batch holds, per row, a context of hundreds of tokens and the tokens generated so far. The plain
cache (``DynamicCache``) concatenates each new token's keys and values onto the whole cache, so every decode step
copies it: for 32 rows of 1,300 tokens on an 86M-parameter model that is 3 GB read and 3 GB written a step,
besides the 3 GB attention reads, far more than the step's arithmetic. Where the model takes its attention from
transformers' ``AttentionInterface`` (most causal LMs do), decoding here uses :class:`RowCache` instead:

- each row's own keys and values (its context, then its generated tokens) go into a buffer allocated once per
  batch and written in place;
- a prefix every context shares (fixed few-shot demonstrations, :class:`SharedPrefix`) runs once, and its keys
  and values are kept once, not per row: all rows' queries meet them in one matrix product, with one softmax over
  prefix and own keys together (cascade attention, as in Hydragen, Juravsky et al., 2024).

Either way the result is attention over the whole context, equal to the plain computation up to float rounding.
Models outside the interface keep the plain cache (:meth:`SharedPrefix.plain_cache`).
"""

from __future__ import annotations

import copy
from contextlib import AbstractContextManager
from contextvars import ContextVar
from typing import TYPE_CHECKING

import torch
from transformers import AttentionInterface, DynamicCache, PreTrainedModel

from ckptlens.evaluation.attention import attending_with, sliding_window
from ckptlens.evaluation.tree_batch import cache_argument, supports_logits_to_keep

if TYPE_CHECKING:
    from ckptlens.evaluation.context_states import ContextStates  # which imports generation, which imports this

ROW_ATTENTION = "ckptlens_rows"


class SharedPrefix:
    """The token prefix every context shares (a task's fixed few-shot demonstrations), run once per call."""

    MIN_TOKENS = 8  # shorter prefixes are not worth a separate pass

    def __init__(self, length: int, cache: DynamicCache | None):
        self.length, self.cache = length, cache

    @classmethod
    def of(cls, model: PreTrainedModel, contexts: list[list[int]],
           states: ContextStates | None = None) -> SharedPrefix:
        """Run the contexts' shared prefix, if it is long enough; ``states`` gets its hidden states."""
        length = common_length(contexts)
        length = min(length, min(len(c) for c in contexts) - 1) if contexts else 0  # every row keeps one token
        if length < cls.MIN_TOKENS or slides(model):  # a window counts cache slots: no padding after a prefix
            return cls(0, None)
        cache = DynamicCache(config=model.config)
        ids = torch.tensor([contexts[0][:length]], device=model.device)
        options = {cache_argument(model): cache, **({"logits_to_keep": 1} if supports_logits_to_keep(model) else {})}
        output = model(input_ids=ids, attention_mask=torch.ones_like(ids), use_cache=True,
                       output_hidden_states=states is not None, **options)
        if states is not None:
            states.add_shared_prefix(output.hidden_states)
        return cls(length, cache)

    @staticmethod
    def in_place(model: PreTrainedModel) -> bool:
        """Whether the model's layers take their attention from transformers' interface (:func:`row_attention`)
        and attend to the whole context: a sliding-window layer keeps the model's own masks (the plain cache)."""
        return getattr(model, "_supports_attention_backend", False) and not slides(model)

    def plain_cache(self, model: PreTrainedModel, rows: int) -> DynamicCache:
        """A copy of the prefix's cache per row, for models outside the attention interface."""
        if self.cache is None:
            return DynamicCache(config=model.config)
        cache = copy.deepcopy(self.cache)
        cache.batch_repeat_interleave(rows)
        return cache

    def row_cache(self, model: PreTrainedModel, padding: torch.Tensor, capacity: int) -> RowCache:
        """A :class:`RowCache` for rows whose own tokens' padding mask is ``padding`` (1 = a real token)."""
        prefix = None if self.cache is None else [(layer.keys, layer.values) for layer in self.cache.layers]
        return RowCache(prefix, model.config.get_text_config().num_hidden_layers, padding, capacity)


def slides(model: PreTrainedModel) -> bool:
    """Whether some layer attends over a sliding window. transformers measures the window in cache slots, so a
    row's padding must come before all its tokens (left padding), never between a shared prefix and the row."""
    return sliding_window(model) is not None


def common_length(contexts: list[list[int]]) -> int:
    """The length of the token prefix all ``contexts`` share.

    >>> common_length([[1, 2, 3, 4], [1, 2, 5], [1, 2, 3]])
    2
    """
    if not contexts:
        return 0
    first, n = contexts[0], min(len(c) for c in contexts)
    for other in contexts[1:]:
        n = next((k for k in range(n) if other[k] != first[k]), n)
        if n == 0:
            break
    return n


_ROWS: ContextVar[RowCache] = ContextVar("ckptlens_rows")


class RowCache:
    """The KV cache of one decoding batch: each row's own keys and values in a buffer of ``capacity`` positions,
    written in place, and the shared prefix's keys and values (if any) once per layer.

    It is the cache object a model's attention layers call ``update`` on; :func:`row_attention` reads the prefix
    and the pass's mask from it (:func:`rows_attending`). A pass's queries (its first pass: the rows' contexts; a
    decode step: each row's last token and any drafted ones, ``prompt_lookup``) are written after the row's kept
    positions; :meth:`advance` then keeps as many of them as the row accepted, so rows may hold different counts.
    """

    def __init__(self, prefix: list[tuple[torch.Tensor, torch.Tensor]] | None, layers: int, padding: torch.Tensor,
                 capacity: int):
        self.prefix, self.capacity = prefix, capacity
        self.real = padding.new_ones((padding.shape[0], capacity), dtype=torch.bool)  # generated tokens are real
        self.real[:, : padding.shape[1]] = padding.bool()
        self.keys: list[torch.Tensor | None] = [None] * layers
        self.values: list[torch.Tensor | None] = [None] * layers
        self.lengths = [0] * padding.shape[0]  # each row's positions written and kept
        self._pass: _Pass | None = None

    @property
    def first_pass(self) -> bool:
        return not any(self.lengths)

    def update(self, keys: torch.Tensor, values: torch.Tensor, layer_idx: int, *args, **kwargs):
        """Write this pass's keys and values after each row's kept ones; the rows' keys and values so far."""
        if self.keys[layer_idx] is None:
            shape = (len(self.lengths), keys.shape[1], self.capacity, keys.shape[3])
            # zeros: a row that kept fewer positions than another reads (masked) slots nobody wrote, and a masked
            # weight of 0 times an uninitialised NaN would still be NaN
            self.keys[layer_idx] = keys.new_zeros(shape)
            self.values[layer_idx] = values.new_zeros(shape)
        slots = self.pass_slots(keys.shape[-2])
        for buffer, new in ((self.keys[layer_idx], keys), (self.values[layer_idx], values)):
            if slots.start is not None:
                buffer[:, :, slots.start : slots.start + keys.shape[-2]] = new
            else:
                buffer.scatter_(2, slots.index.expand(-1, new.shape[1], -1, new.shape[3]), new)
        return self.keys[layer_idx][:, :, : slots.end], self.values[layer_idx][:, :, : slots.end]

    def pass_slots(self, queries: int) -> _Pass:
        """Where this pass writes each row's ``queries`` positions, and its mask; computed once a pass."""
        if self._pass is None:
            self._pass = _Pass(self.lengths, queries, self.real)
        return self._pass

    def advance(self, accepted: list[int]) -> None:
        """Keep each row's first ``accepted`` positions of this pass."""
        self.lengths = [k + a for k, a in zip(self.lengths, accepted, strict=True)]
        self._pass = None

    def keep(self, kept: list[int]) -> list[int]:
        """Keep only the rows at ``kept`` (rows that finished leave the batch); the kept rows' new order.

        Each kept row past the new row count moves into a leaving row's place, its written positions only, and the
        buffers are used up to the new count: no copy of the whole cache each time a row finishes.
        """
        rows = len(kept)
        holes = sorted(set(range(rows)) - set(kept))
        movers = [row for row in kept if row >= rows]
        end = max(self.lengths)
        for buffer in (*self.keys, *self.values):
            for hole, mover in zip(holes, movers, strict=True):
                buffer[hole, :, :end] = buffer[mover, :, :end]
        order = list(range(rows))
        for hole, mover in zip(holes, movers, strict=True):
            self.real[hole] = self.real[mover]
            order[hole] = mover
        self.keys = [k[:rows] for k in self.keys]
        self.values = [v[:rows] for v in self.values]
        self.real = self.real[:rows]
        self.lengths = [self.lengths[row] for row in order]
        self._pass = None
        return order


class _Pass:
    """One pass's write positions and mask (rows, 1, queries, keys): a query sees its row's real tokens up to
    its own position. When all rows hold the same count (no drafts, or all accepted alike) the writes are one
    slice."""

    def __init__(self, lengths: list[int], queries: int, real: torch.Tensor):
        self.end = max(lengths) + queries
        self.start = lengths[0] if min(lengths) == max(lengths) else None
        starts = torch.tensor(lengths, device=real.device)
        self.index = (starts[:, None] + torch.arange(queries, device=real.device))[:, None, :, None]
        if self.start is not None and queries == 1:
            self.mask = real[:, None, None, : self.end]
            return
        self.mask = real[:, None, None, : self.end] & (torch.arange(self.end, device=real.device) <= self.index)


def row_attention(module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                  attention_mask: None, scaling: float | None = None, **kwargs) -> tuple[torch.Tensor, None]:
    """Attention of the rows' queries over the shared prefix and their own keys, one softmax over both.

    A decode step (a few queries a row) reads the prefix once for all rows; a batch's first pass, whose queries are
    the rows' own context tokens and whose arithmetic outweighs the copy, runs one fused attention over the prefix
    copied per row and the rows' keys. ``key``/``value`` are the rows' own (from :meth:`RowCache.update`).
    transformers builds no mask for an attention it does not know (``attention_mask`` is None): the mask is the
    pass's (:class:`_Pass`), from the cache's real tokens and each query's position.
    """
    row_cache = _ROWS.get()
    rows, heads, queries, dim = query.shape
    scaling = dim**-0.5 if scaling is None else scaling
    mask = row_cache.pass_slots(queries).mask
    groups = heads // key.shape[1]  # grouped-query attention: each key head serves `groups` query heads
    first = row_cache.first_pass
    if row_cache.prefix is not None and first:  # the prefix copied for this pass alone
        prefix_keys, prefix_values = (t.expand(rows, -1, -1, -1) for t in row_cache.prefix[module.layer_idx])
        key, value = torch.cat([prefix_keys, key], dim=-2), torch.cat([prefix_values, value], dim=-2)
        mask = torch.cat([mask.new_ones((rows, 1, queries, prefix_keys.shape[-2])), mask.expand(-1, -1, queries, -1)],
                         dim=-1)
    if row_cache.prefix is None or first:
        output = torch.nn.functional.scaled_dot_product_attention(query, key, value, attn_mask=mask, scale=scaling,
                                                                  enable_gqa=groups > 1)
        return output.transpose(1, 2).contiguous(), None
    prefix_keys, prefix_values = row_cache.prefix[module.layer_idx]
    if groups > 1:
        key, value, prefix_keys, prefix_values = (t.repeat_interleave(groups, dim=1)
                                                  for t in (key, value, prefix_keys, prefix_values))
    stacked = query.transpose(0, 1).reshape(1, heads, rows * queries, -1)  # every row's queries, one product
    prefix_scores = (stacked @ prefix_keys.transpose(-1, -2)).view(heads, rows, queries, -1).transpose(0, 1)
    own_scores = (query @ key.transpose(-1, -2)).masked_fill(~mask, float("-inf"))
    weights = torch.softmax(torch.cat([prefix_scores, own_scores], dim=-1) * scaling, dim=-1)
    prefix_length = prefix_keys.shape[-2]
    prefix_weights = weights[..., :prefix_length].transpose(0, 1).reshape(1, heads, rows * queries, prefix_length)
    output = (prefix_weights @ prefix_values).view(heads, rows, queries, -1).transpose(0, 1)
    output = output + weights[..., prefix_length:] @ value
    return output.transpose(1, 2).contiguous(), None


AttentionInterface.register(ROW_ATTENTION, row_attention)


def rows_attending(model: PreTrainedModel, cache: RowCache) -> AbstractContextManager[None]:
    """The model's layers attend with :func:`row_attention` over ``cache`` inside the block, their own after it."""
    return attending_with(model, ROW_ATTENTION, _ROWS, cache)
