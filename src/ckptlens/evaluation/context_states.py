"""Hidden states of each example's context: per layer, mean-pooled over its tokens and its last token's.

The context is the one the engine runs: for multiple choice the context the options share, split from them as
lm-evaluation-harness splits it (``scoring.encode_choices``), for other tasks the prompt as generation encodes it;
no special tokens are added, as in scoring. Two ways to get the same numbers:

- ``ContextStates`` collects them from the passes that score or generate: the prefix-tree passes of multiple
  choice (``scoring.score_encoded(..., states=)``), generation's shared-prefix pass and each batch's first pass
  (``generation.generate_greedy(..., states=)``), and for lm-eval's tasks a prompt-only pass through the prefix
  tree (``scoring.run_contexts``). A shared prefix's tokens run once, so its per-layer sum is kept and added to
  the sum of each context after it; the last token is always the example's own (a leaf keeps at least one);
- ``prompt_states`` runs the contexts alone, right-padded, with ``output_hidden_states`` (``ckptlens
  representations``: the plain reference).

Tests pin the two together (float noise).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.evaluation.generation import _context_tokens as generation_tokens
from ckptlens.evaluation.scoring import encode_choices
from ckptlens.evaluation.tree_batch import CONTEXT, PAD_ID, Packed, Row
from ckptlens.tasks.task import Task

LayerStates = dict[int, tuple[np.ndarray, np.ndarray]]  # layer -> (mean-pooled (E, hidden), last token (E, hidden))


def context_tokens(tokenizer: PreTrainedTokenizerBase, task: Task) -> list[list[int]]:
    """Each example's context token ids, as the engine runs them for ``task``."""
    if task.kind == "multiple_choice":
        return [encode_choices(tokenizer, e.context, [])[0] for e in task.examples]
    return [generation_tokens(tokenizer, e.context) for e in task.examples]


class ContextStates:
    """Per-layer sums and last-token states of every example's context, filled pass by pass."""

    def __init__(self, layers: Sequence[int], n_examples: int):
        self.layers = tuple(layers)
        self._node_sums: dict[int, torch.Tensor] = {}  # node -> (L, hidden): its own tokens' sum
        self._node_parents: dict[int, int | None] = {}
        self._mean: list[torch.Tensor | None] = [None] * n_examples
        self._last: list[torch.Tensor | None] = [None] * n_examples
        self._prefix_sum: torch.Tensor | float = 0.0  # generation's shared prefix: (L, hidden), and its length
        self._prefix_length = 0

    def add_nodes(self, rows: list[Row], packed: Packed, hidden: tuple[torch.Tensor, ...]) -> None:
        """A pass of shared prefix nodes (``row.key`` the node, ``row.past`` its parent): keep each node's
        per-layer sum over its own tokens."""
        sums, _ = self._pooled(hidden, packed.segments == CONTEXT)
        for i, row in enumerate(rows):
            self._node_sums[row.key] = sums[:, i]
            self._node_parents[row.key] = row.past

    def add_leaves(self, rows: list[Row], packed: Packed, hidden: tuple[torch.Tensor, ...]) -> None:
        """A pass of examples: their context's own tokens, plus the sums of the nodes above them."""
        sums, last = self._pooled(hidden, packed.segments == CONTEXT)
        for i, row in enumerate(rows):
            total = sums[:, i] + self._path_sum(row.past)
            self._mean[row.key] = total / (row.start + len(row.context))
            self._last[row.key] = last[:, i]

    def add_shared_prefix(self, hidden: tuple[torch.Tensor, ...]) -> None:
        """Generation's shared-prefix pass (one row): its per-layer sum, part of every prompt after it."""
        sums, _ = self._pooled(hidden, torch.ones(hidden[0].shape[:2], dtype=torch.bool))
        self._prefix_sum, self._prefix_length = sums[:, 0], hidden[0].shape[1]

    def add_prompts(self, examples: Sequence[int], hidden: tuple[torch.Tensor, ...], real: torch.Tensor) -> None:
        """A generation batch's first pass: rows ``examples``, left-padded, ``real`` marking each row's own tokens
        (those after the shared prefix)."""
        sums, last = self._pooled(hidden, real.bool())
        lengths = real.sum(dim=1).tolist()
        for i, example in enumerate(examples):
            self._mean[example] = (sums[:, i] + self._prefix_sum) / (self._prefix_length + lengths[i])
            self._last[example] = last[:, i]

    def result(self) -> LayerStates:
        mean = torch.stack(self._mean, dim=1).numpy()  # (L, E, hidden)
        last = torch.stack(self._last, dim=1).numpy()
        return {layer: (mean[j], last[j]) for j, layer in enumerate(self.layers)}

    def _pooled(self, hidden: tuple[torch.Tensor, ...], columns: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(L, rows, hidden) float32 on the CPU: each row's sum over its ``columns`` (rows, length), and its last
        such column's state."""
        device = hidden[0].device
        columns = columns.to(device)
        ends = columns.shape[1] - 1 - columns.int().flip(1).argmax(dim=1)  # a row's last such column
        weights = columns.to(torch.float32).unsqueeze(-1)
        rows = torch.arange(len(ends), device=device)
        sums = torch.stack([(hidden[k].float() * weights).sum(dim=1) for k in self.layers]).cpu()
        last = torch.stack([hidden[k][rows, ends].float() for k in self.layers]).cpu()
        return sums, last

    def _path_sum(self, node: int | None) -> torch.Tensor | float:
        total: torch.Tensor | float = 0.0
        while node is not None:
            total = total + self._node_sums[node]
            node = self._node_parents[node]
        return total


@torch.inference_mode()
def prompt_states(model: PreTrainedModel, contexts: Sequence[Sequence[int]], layers: Sequence[int],
                  batch_size: int = 16) -> LayerStates:  # fmt: skip
    """Per layer: (mean-pooled, last-token) hidden states of each context run alone, each (E, hidden) float32.

    Contexts are batched with right padding; pooling and the last token use the attention mask, so padding does
    not enter them.
    """
    order = sorted(range(len(contexts)), key=lambda i: -len(contexts[i]))  # little padding
    pooled: dict[int, list] = {layer: [] for layer in layers}
    last: dict[int, list] = {layer: [] for layer in layers}
    for start in range(0, len(contexts), batch_size):
        batch = [contexts[i] for i in order[start : start + batch_size]]
        longest = max(len(c) for c in batch)
        ids = torch.tensor([list(c) + [PAD_ID] * (longest - len(c)) for c in batch], device=model.device)
        mask = torch.tensor([[1] * len(c) + [0] * (longest - len(c)) for c in batch], device=model.device)
        hidden = model(input_ids=ids, attention_mask=mask, output_hidden_states=True, use_cache=False).hidden_states
        ends = mask.sum(dim=1) - 1
        weights = mask.unsqueeze(-1).float()
        for layer in layers:
            h = hidden[layer].float()
            pooled[layer].append(((h * weights).sum(dim=1) / weights.sum(dim=1)).cpu().numpy())
            last[layer].append(h[torch.arange(len(ends), device=h.device), ends].cpu().numpy())
    back = np.argsort(order)
    return {layer: (np.concatenate(pooled[layer])[back], np.concatenate(last[layer])[back]) for layer in layers}
