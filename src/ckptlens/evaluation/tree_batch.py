"""One forward pass over rows that continue cached prefixes: packing, tree masks and the prefix caches.

A row is ``[left pad | context | choice 0 | choice 1 | ...]`` continuing
the KV cache of a prefix-tree node (``prefix_tree``). Each choice segment holds
the choice's tokens but its last and sees the node's path, the context and
itself only (a tree-shaped mask), with positions restarting where the context
ends, so one pass scores every choice and the context runs once. A node row is
the same without choices: its pass only fills the node's cache.

Rows of one pass may continue different nodes: each row's past is its node
path's cache, padded to the longest past, the padding masked. On SDPA models
the mask is boolean (``scaled_dot_product_attention`` then picks its
memory-efficient kernel on CUDA); on eager ones it is additive.

The pasts never go through a transformers ``Cache``: during a pass the model's
attention is ``tree_attention`` (registered with transformers'
``AttentionInterface``), which writes each row's past in front of the keys and
values the layer just computed, once, and hands them to the model's own
attention (SDPA or eager). A cache would copy every row's past twice more per
layer (padding the pasts side by side, then appending the pass's keys): a
third of the time of a pass. A node pass keeps the keys and values its layers
computed: they are the node's cache.
"""

from __future__ import annotations

import functools
import inspect
import sys
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field

import torch
from transformers import AttentionInterface, PreTrainedModel
from transformers.integrations.sdpa_attention import sdpa_attention_forward

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.attention import attending_with, sliding_window
from ckptlens.evaluation.prefix_tree import Node

PAD_ID = 0  # padding is masked and never scored, so any valid token id will do
CONTEXT, PAD = -1, -2  # segment ids besides the choice indices
KV = list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), batch dimension first


@dataclass(frozen=True)
class Row:
    """Tokens for one row: ``key`` is the example (or node) it computes; it continues node ``past``."""

    key: int
    past: int | None
    start: int  # absolute position of its first token: the length of its past
    context: list[int]
    continuations: list[list[int]] = field(default_factory=list)

    @property
    def length(self) -> int:
        """Its unpadded columns: the context, then every choice but its last token."""
        return len(self.context) + sum(len(c) - 1 for c in self.continuations)


@dataclass
class TokenCount:
    """Positions a call ran through the model (padding included) and the positions it had to run.

    ``needed`` counts each distinct prefix once (the trie of every context plus
    choice), so ``efficiency`` = run / needed is 1.0 for an engine that runs
    nothing twice and pads nothing.
    """

    run: int = 0
    needed: int = 0

    @property
    def efficiency(self) -> float:
        return self.run / self.needed if self.needed else 1.0


class NodeCaches:
    """The KV cache of each node run so far, kept while examples below it still have to run."""

    def __init__(self, nodes: list[Node]):
        self.nodes = nodes
        self.segments: dict[int, KV] = {}  # a node's own tokens
        self._paths: dict[int, KV] = {}  # position 0 to a node's end, built once when a row first needs it
        self.remaining = [n.users for n in nodes]

    def path(self, node: int | None) -> KV | None:
        """Per layer, the cache of every token from position 0 to the end of ``node``."""
        if node is None:
            return None
        if node not in self._paths:
            parent = self.path(self.nodes[node].parent)
            own = self.segments[node]
            self._paths[node] = own if parent is None else [
                (torch.cat([pk, k], -2), torch.cat([pv, v], -2)) for (pk, pv), (k, v) in zip(parent, own, strict=True)
            ]  # fmt: skip
        return self._paths[node]

    def release(self, node: int | None) -> None:
        """An example below ``node`` is done: drop the caches no other example needs."""
        while node is not None:
            self.remaining[node] -= 1
            if self.remaining[node] == 0:
                self.segments.pop(node, None)
                self._paths.pop(node, None)
            node = self.nodes[node].parent


def batches(rows: list[Row], batch_size: int, batch_tokens: int | None) -> Iterator[list[Row]]:
    """Consecutive rows, at most ``batch_size`` a pass and, with a budget, rows x padded length <= ``batch_tokens``.

    Rows come longest first, so padding stays small; a row longer than the budget runs alone.
    """
    batch: list[Row] = []
    for row in rows:
        longest = max(batch[0].length, row.length) if batch else row.length
        full = len(batch) >= batch_size or (batch_tokens is not None and (len(batch) + 1) * longest > batch_tokens)
        if batch and full:
            yield batch
            batch = []
        batch.append(row)
    if batch:
        yield batch


@dataclass(frozen=True)
class Packed:
    ids: torch.Tensor  # (rows, length), each row right-aligned: [pad | context | choice 0 | choice 1 | ...]
    positions: torch.Tensor  # (rows, length) absolute positions
    segments: torch.Tensor  # (rows, length): CONTEXT, PAD, or the choice index
    kept: int  # the last columns whose logits are read: every choice token and each row's last context token
    scored: list[tuple[int, int, int, int, int]]  # (row, column among the kept, target token, key, choice)


def pack(rows: list[Row]) -> Packed:
    length = max(r.length for r in rows)
    kept = max(r.length - len(r.context) for r in rows) + 1
    ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
    positions = torch.zeros((len(rows), length), dtype=torch.long)
    segments = torch.full((len(rows), length), PAD, dtype=torch.long)
    scored = []
    for i, row in enumerate(rows):
        n_ctx, end = len(row.context), row.start + len(row.context)
        column = length - row.length
        ids[i, column : column + n_ctx] = torch.tensor(row.context)
        positions[i, column : column + n_ctx] = torch.arange(row.start, end)
        segments[i, column : column + n_ctx] = CONTEXT
        last_context = column + n_ctx - 1 - (length - kept)  # among the kept columns
        column += n_ctx
        for j, cont in enumerate(row.continuations):
            n = len(cont) - 1
            ids[i, column : column + n] = torch.tensor(cont[:-1], dtype=torch.long)
            positions[i, column : column + n] = torch.arange(end, end + n)
            segments[i, column : column + n] = j
            first = column - (length - kept)
            predicting = [last_context, *range(first, first + n)]  # the columns whose logits predict each token
            scored += [(i, k, token, row.key, j) for k, token in zip(predicting, cont, strict=True)]
            column += n
    return Packed(ids, positions, segments, kept, scored)


def tree_mask(packed: Packed, pasts: list[int], boolean: bool, dtype: torch.dtype,
              window: int | None = None) -> torch.Tensor:
    """(rows, 1, length, max past + length): a row sees its own past, causal context, a choice itself; pads nothing;
    with a ``window``, only keys whose position is less than ``window`` before the query's (a sliding layer's).

    Every query keeps its own position, so no row is fully masked (no NaN).
    """
    seg = packed.segments
    query, key = seg[:, :, None], seg[:, None, :]
    length = seg.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    allowed = causal & (key != PAD) & ((key == CONTEXT) | (key == query))
    allowed |= torch.eye(length, dtype=torch.bool)
    past = torch.arange(max(pasts, default=0))[None, :] < torch.tensor(pasts)[:, None]  # (rows, max past)
    allowed = torch.cat([past[:, None, :].expand(-1, length, -1), allowed], dim=-1)[:, None]
    if window is not None:  # a past column's position is its index: a row's past is its path from position 0
        keys = torch.cat([torch.arange(max(pasts, default=0)).expand(len(pasts), -1), packed.positions], dim=-1)
        allowed &= (packed.positions[:, :, None] - keys[:, None, :] < window)[:, None]
    if boolean:
        return allowed
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def forward(model: PreTrainedModel, rows: list[Row], caches: NodeCaches, count: TokenCount | None,
            hidden: bool = False):  # fmt: skip
    """Run ``rows`` over their pasts; the pass's packing, the logits of its kept columns, for a pass of node
    rows, per layer, the keys and values of its own columns (what the rows below a node continue from), and with
    ``hidden`` the model's ``hidden_states`` of the pass (else None)."""
    packed = pack(rows)
    device = model.device
    pasts = [r.start for r in rows]
    inputs = {
        "input_ids": packed.ids.to(device),
        "position_ids": packed.positions.to(device),
        "attention_mask": tree_mask(packed, pasts, uses_sdpa(model), model.dtype).to(device),
    }
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = packed.kept
    state = _Pass(_past_groups(rows, caches, device), max(pasts), not rows[0].continuations, _own_attention(model))
    if (sliding := sliding_window(model)) is not None:
        window, state.sliding_layers = sliding
        state.sliding_mask = tree_mask(packed, pasts, uses_sdpa(model), model.dtype, window).to(device)
    with attending_with(model, TREE_ATTENTION, _PASS, state):  # the model's own attention again after it
        output = model(**inputs, use_cache=False, **({"output_hidden_states": True} if hidden else {}))
    if count is not None:
        count.run += packed.ids.numel()
    return packed, output.logits[:, -packed.kept :], state.computed, output.hidden_states if hidden else None


def node_segments(rows: list[Row], computed: dict[int, tuple[torch.Tensor, torch.Tensor]]) -> dict[int, KV]:
    """Each node row's own slice of a pass's keys and values (copied, so the pass's tensors can be freed)."""
    layers = [computed[layer] for layer in sorted(computed)]
    end = layers[0][0].shape[-2]
    out = {}
    for i, row in enumerate(rows):
        start = end - len(row.context)  # a node row's tokens are the last columns of the pass
        out[row.key] = [(k[i : i + 1, :, start:end].clone(), v[i : i + 1, :, start:end].clone()) for k, v in layers]
    return out


@dataclass
class _Pass:
    """What ``tree_attention`` needs during one pass: the rows' pasts, and the keys and values it computed."""

    groups: list[tuple[torch.Tensor, KV | None]]  # (rows continuing one node, its path cache per layer, or None)
    longest: int  # the longest past: every row's past is padded to it
    keep: bool  # a node pass: keep each layer's keys and values (a leaf pass lets them go layer by layer)
    attend: Callable  # the model's own attention (SDPA or eager), called with the pasts in place
    computed: dict[int, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    sliding_layers: frozenset[int] = frozenset()  # layers that attend over a sliding window, with this mask
    sliding_mask: torch.Tensor | None = None


_PASS: ContextVar[_Pass] = ContextVar("ckptlens_tree_pass")
TREE_ATTENTION = "ckptlens_tree"


def tree_attention(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                   attention_mask: torch.Tensor | None, **kwargs):  # fmt: skip
    """A layer's attention during a pass: its new keys and values kept, the rows' pasts put in front of them."""
    state = _PASS.get()
    if module.layer_idx in state.sliding_layers:
        attention_mask = state.sliding_mask
    if state.keep:
        state.computed[module.layer_idx] = (key, value)
    if state.longest:
        key, value = (_with_pasts(state, module.layer_idx, tensor, part) for part, tensor in enumerate((key, value)))
    return state.attend(module, query, key, value, attention_mask, **kwargs)


AttentionInterface.register(TREE_ATTENTION, tree_attention)


def _with_pasts(state: _Pass, layer: int, new: torch.Tensor, part: int) -> torch.Tensor:
    """(rows, heads, longest past + length, dim): each row's past, zero-padded at its end, then ``new``.

    Every column is written: a masked column left uninitialised could hold NaN, and NaN times a zero weight is NaN.
    """
    rows, heads, length, dim = new.shape
    out = new.new_empty((rows, heads, state.longest + length, dim))
    out[:, :, state.longest :] = new
    for index, path in state.groups:
        filled = 0 if path is None else path[layer][part].shape[-2]
        if path is not None:
            out[index, :, :filled] = path[layer][part]
        if filled < state.longest:
            out[index, :, filled : state.longest] = 0
    return out


def _past_groups(rows: list[Row], caches: NodeCaches, device: torch.device) -> list[tuple[torch.Tensor, KV | None]]:
    """The rows of a pass by the node they continue, with that node's path cache (None: rows with no past)."""
    by_node: dict[int | None, list[int]] = {}
    for i, row in enumerate(rows):
        by_node.setdefault(row.past, []).append(i)
    return [(torch.tensor(index, device=device), caches.path(node)) for node, index in by_node.items()]





def _own_attention(model: PreTrainedModel) -> Callable:
    """The attention the model runs with: SDPA, or its modelling file's eager attention."""
    if uses_sdpa(model):
        return sdpa_attention_forward
    for module in model.modules():
        eager = getattr(sys.modules[type(module).__module__], "eager_attention_forward", None)
        if eager is not None:
            return eager
    raise CkptlensError(f"{type(model).__name__} has no eager or SDPA attention for the prefix tree")


def cache_argument(model: PreTrainedModel) -> str:
    """The keyword a forward call takes its KV cache by: ``cache`` since transformers 5.24, else ``past_key_values``."""
    return "cache" if "cache" in _forward_parameters(type(model)) else "past_key_values"


def supports_logits_to_keep(model: PreTrainedModel) -> bool:
    """Most causal LMs can skip the vocabulary projection for positions nobody scores."""
    return "logits_to_keep" in _forward_parameters(type(model))


def uses_sdpa(model: PreTrainedModel) -> bool:
    """Whether the model's attention is ``scaled_dot_product_attention``, which takes a boolean mask."""
    return getattr(model.config, "_attn_implementation", None) == "sdpa"


@functools.cache
def _forward_parameters(model_class: type) -> frozenset[str]:
    """The keyword names of a model class's ``forward``, read once per class (every pass asks)."""
    return frozenset(inspect.signature(model_class.forward).parameters)
