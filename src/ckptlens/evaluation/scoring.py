"""Multiple choice by log-likelihood: the scoring engine.

Each choice is scored as a continuation of the example's context: the summed
log-probability of its tokens. The context/continuation boundary follows
lm-evaluation-harness exactly (trailing whitespace of the context moves to the
front of the continuation; the continuation tokens are the tail of
``encode(context + continuation)`` after ``len(encode(context))`` tokens), so
numbers are comparable with lm-eval's.

Three things make it fast without changing the numbers:

- the longest token prefix shared by every context of the call (the few-shot
  demonstrations) runs once; its KV cache is reused by every batch;
- each example's own context runs once, whatever its number of choices
  (lm-eval re-runs it for every multi-token choice): an example is one row,
  ``[context | choice 0 | choice 1 | ...]``, with a tree-shaped attention mask
  (a choice sees the context and itself, not the other choices) and each
  choice's positions restarting where the context ends, so one forward pass
  scores every choice; a choice's first token is read off the context's last
  logits, so single-token choices add no tokens at all;
- examples are sorted by length and batched, ``batch_size`` examples per
  forward pass, so padding is small and peak memory grows with ``batch_size``
  (times the choices' total length), never with the number of examples.

Results do not depend on ``batch_size`` beyond float noise (tests pin 1e-4 in
float32): a spurious flip would be reported as instability.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.tasks.task import Example

# Padding is masked and never scored, so any valid token id will do.
PAD_ID = 0


@dataclass(frozen=True)
class ChoiceScores:
    """Per choice: summed log-likelihood of its continuation tokens, how many tokens that is, and is-greedy.

    ``greedy[j]``: every token of choice j is the model's argmax (lm-eval's ``is_greedy``).
    """

    logliks: list[float]
    n_tokens: list[int]
    greedy: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class _Pending:
    """One example to score: its index, its own context tokens after the shared prefix, its choices' tokens."""

    example: int
    context: list[int]
    continuations: list[list[int]]


def score_multiple_choice(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    batch_size: int = 32,
    share_prefix: bool = True,
) -> list[ChoiceScores]:
    """Summed log-likelihood of every choice of every example, in input order.

    ``share_prefix=False`` skips the shared-prefix cache (same numbers, slower;
    kept to measure and test the speed-up).

    >>> from ckptlens.checkpoints.loading import load_model  # doctest: +SKIP
    >>> model, tok = load_model("runs/demo/step000100")  # doctest: +SKIP
    >>> ex = Example("q1", "Q: capital of France?\\nA:", (" Paris", " Rome"), gold=0)  # doctest: +SKIP
    >>> score_multiple_choice(model, tok, [ex])[0].logliks  # doctest: +SKIP
    [-3.2, -7.9]
    """
    if batch_size < 1:
        raise CkptlensError(f"batch size must be at least 1, got {batch_size}")
    encoded = [encode_example(tokenizer, e) for e in examples]
    _check_lengths(examples, encoded, max_positions(model))
    contexts = [ctx for ctx, _ in encoded]
    shared = shared_prefix_length(contexts) if share_prefix else 0
    logliks = [[0.0] * len(conts) for _, conts in encoded]
    greedy = [[True] * len(conts) for _, conts in encoded]
    order = sorted(range(len(encoded)), key=lambda i: -len(contexts[i]))
    with torch.inference_mode():
        prefix = _run_prefix(model, contexts[0][:shared]) if shared else None
        for chunk in _batches(order, batch_size):
            group = [_Pending(i, contexts[i][shared:], encoded[i][1]) for i in chunk]
            for (i, j), (value, is_greedy) in _score_group(model, group, prefix, shared).items():
                logliks[i][j], greedy[i][j] = value, is_greedy
    return [
        ChoiceScores(ll, [len(c) for c in conts], g) for ll, g, (_, conts) in zip(logliks, greedy, encoded, strict=True)
    ]


def split_boundary(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation (lm-eval's rule).

    >>> split_boundary("Q: 2+2?\\nA: ", "4")
    ('Q: 2+2?\\nA:', ' 4')
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(tokenizer: PreTrainedTokenizerBase, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation token ids exactly as lm-evaluation-harness splits them.

    Encoding the whole string keeps the tokenizer's merges across the
    boundary; an empty context becomes the single end-of-text token.
    """
    context, continuation = split_boundary(context, continuation)
    if not context:
        return [boundary_token(tokenizer)], _encode(tokenizer, continuation)
    whole = _encode(tokenizer, context + continuation)
    ctx = _encode(tokenizer, context)
    return ctx, whole[len(ctx) :]


def encode_example(tokenizer: PreTrainedTokenizerBase, example: Example) -> tuple[list[int], list[list[int]]]:
    """An example's context tokens and each choice's continuation tokens."""
    if not example.choices:
        raise CkptlensError(f"example {example.id!r} has no choices; a multiple-choice example needs at least one")
    pairs = [encode_pair(tokenizer, example.context, choice) for choice in example.choices]
    for i, (_, cont) in enumerate(pairs):
        if not cont:
            raise CkptlensError(
                f"example {example.id!r}: choice {i} ({example.choices[i]!r}) encodes to no tokens; "
                "give every choice some text"
            )
    return pairs[0][0], [cont for _, cont in pairs]


def boundary_token(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token an empty context stands on: end-of-text, else beginning-of-text."""
    for token in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if token is not None:
            return token
    raise CkptlensError("an example has an empty context and the tokenizer has no eos or bos token; give it a context")


def max_positions(model: PreTrainedModel) -> int | None:
    """How many positions the model was built for, when its config says."""
    return getattr(model.config.get_text_config(), "max_position_embeddings", None)


def shared_prefix_length(contexts: Sequence[Sequence[int]]) -> int:
    """Length of the longest token prefix common to all contexts, leaving each ≥1 own token.

    >>> shared_prefix_length([[5, 6, 7, 8], [5, 6, 9], [5, 6, 7]])
    2
    >>> shared_prefix_length([[5, 6], [5, 6]])
    1
    """
    if not contexts:
        return 0
    limit = min(len(c) for c in contexts) - 1
    first = contexts[0]
    length = 0
    while length < limit and all(c[length] == first[length] for c in contexts):
        length += 1
    return length


def _encode(tokenizer: PreTrainedTokenizerBase, text: str) -> list[int]:
    return list(tokenizer(text, add_special_tokens=False)["input_ids"])


def _check_lengths(examples: Sequence[Example], encoded, limit: int | None) -> None:
    if limit is None:
        return
    for example, (ctx, conts) in zip(examples, encoded, strict=True):
        longest = len(ctx) + max(len(c) for c in conts) - 1
        if longest > limit:
            raise CkptlensError(
                f"example {example.id!r} needs {longest} tokens, more than the model's {limit} positions; "
                "shorten its context (fewer demonstrations)"
            )


def _batches(items: list, batch_size: int):
    for start in range(0, len(items), batch_size):
        yield items[start : start + batch_size]


def _run_prefix(model: PreTrainedModel, prefix: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Run the shared prefix once; its per-layer (keys, values) with batch size 1."""
    ids = torch.tensor([prefix], device=model.device)
    output = model(input_ids=ids, use_cache=True)
    cache = output["cache"] if "cache" in output else output.past_key_values  # renamed in transformers 5.24
    return [(layer.keys, layer.values) for layer in cache.layers]


def _expanded_cache(model: PreTrainedModel, prefix, rows: int) -> DynamicCache:
    """A fresh cache holding the prefix for ``rows`` rows (a forward call extends its cache in place)."""
    layers = [(k.expand(rows, -1, -1, -1), v.expand(rows, -1, -1, -1)) for k, v in prefix]
    return DynamicCache(ddp_cache_data=layers, config=model.config)


@dataclass(frozen=True)
class _Packed:
    """A group of examples laid out one example a row: [left pad | context | choice 0 | choice 1 | ... | pad].

    Each choice segment holds the choice's tokens but its last; a segment sees
    the context and itself only (a tree-shaped mask), so one forward pass scores
    every choice, and the context runs once.
    """

    ids: torch.Tensor  # (rows, length)
    positions: torch.Tensor  # (rows, length) absolute positions, counting the shared prefix
    segments: torch.Tensor  # (rows, length): CONTEXT, PAD, or the choice index
    width: int  # context columns (left-padded); column width - 1 predicts every choice's first token
    scored: list[tuple[int, int, int, int, int]]  # (row, kept column, target token, example, choice)


CONTEXT, PAD = -1, -2


def _pack(group: list[_Pending], shared: int) -> _Packed:
    width = max(len(p.context) for p in group)
    tails = [sum(len(c) - 1 for c in p.continuations) for p in group]
    length = width + max(tails)
    ids = torch.full((len(group), length), PAD_ID, dtype=torch.long)
    positions = torch.full((len(group), length), shared, dtype=torch.long)
    segments = torch.full((len(group), length), PAD, dtype=torch.long)
    scored = []
    for row, pending in enumerate(group):
        n_ctx = len(pending.context)
        ids[row, width - n_ctx : width] = torch.tensor(pending.context)
        positions[row, width - n_ctx : width] = torch.arange(shared, shared + n_ctx)
        segments[row, width - n_ctx : width] = CONTEXT
        start = width
        for j, cont in enumerate(pending.continuations):
            n = len(cont) - 1
            ids[row, start : start + n] = torch.tensor(cont[:-1], dtype=torch.long)
            positions[row, start : start + n] = torch.arange(shared + n_ctx, shared + n_ctx + n)
            segments[row, start : start + n] = j
            kept = [0] + list(range(start - width + 1, start - width + 1 + n))  # columns predicting each token
            scored += [(row, column, token, pending.example, j) for column, token in zip(kept, cont, strict=True)]
            start += n
    return _Packed(ids, positions, segments, width, scored)


def _tree_mask(packed: _Packed, shared: int, dtype: torch.dtype) -> torch.Tensor:
    """Additive (rows, 1, length, shared + length) mask: causal, a choice sees the context and itself, pads nothing.

    Every query keeps its own position (and the prefix), so no row is fully masked.
    """
    seg = packed.segments
    query, key = seg[:, :, None], seg[:, None, :]
    length = seg.shape[1]
    causal = torch.ones(length, length, dtype=torch.bool).tril()
    allowed = causal & (key != PAD) & ((key == CONTEXT) | (key == query))
    allowed |= torch.eye(length, dtype=torch.bool)
    prefix = torch.ones((seg.shape[0], length, shared), dtype=torch.bool)
    allowed = torch.cat([prefix, allowed], dim=-1)[:, None]
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)


def _score_group(model: PreTrainedModel, group: list[_Pending], prefix, shared: int) -> dict:
    """{(example, choice): (summed loglik, is-greedy)} for a group of examples, in one forward pass."""
    packed = _pack(group, shared)
    device = model.device
    kept = packed.ids.shape[1] - packed.width + 1
    inputs = {
        "input_ids": packed.ids.to(device),
        "position_ids": packed.positions.to(device),
        "attention_mask": _tree_mask(packed, shared, model.dtype).to(device),
    }
    if prefix is not None:
        inputs[cache_argument(model)] = _expanded_cache(model, prefix, len(group))
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = kept
    logits = model(**inputs, use_cache=prefix is not None).logits[:, -kept:]
    rows, columns, tokens, examples, choices = (list(v) for v in zip(*packed.scored, strict=True))
    picked = logits[torch.tensor(rows, device=device), torch.tensor(columns, device=device)].float()
    targets = torch.tensor(tokens, device=device)
    logprobs = picked.gather(-1, targets[:, None]).squeeze(-1)
    logprobs = (logprobs - torch.logsumexp(picked, dim=-1)).tolist()
    hits = (picked.argmax(-1) == targets).tolist()
    scores: dict = {}
    for example, choice, value, hit in zip(examples, choices, logprobs, hits, strict=True):
        total, greedy = scores.get((example, choice), (0.0, True))
        scores[example, choice] = (total + value, greedy and hit)
    return scores


def cache_argument(model: PreTrainedModel) -> str:
    """The keyword a forward call takes its KV cache by: ``cache`` since transformers 5.24, else ``past_key_values``."""
    return "cache" if "cache" in _forward_parameters(type(model)) else "past_key_values"


def supports_logits_to_keep(model: PreTrainedModel) -> bool:
    """Most causal LMs can skip the vocabulary projection for positions nobody scores."""
    return "logits_to_keep" in _forward_parameters(type(model))


@functools.cache
def _forward_parameters(model_class: type) -> frozenset[str]:
    """The keyword names of a model class's ``forward``, read once per class (every scored group asks)."""
    return frozenset(inspect.signature(model_class.forward).parameters)
