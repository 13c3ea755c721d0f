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
  (lm-eval re-runs it for every multi-token choice): a choice's first token is
  read off the context's last logits, so single-token choices need no forward
  pass of their own, and longer choices feed only their remaining tokens on top
  of the context's cache;
- examples are sorted by context length and batched (``batch_size`` contexts,
  then ``batch_size`` choice rows per forward pass) with attention masks and
  explicit positions, so padding is small and peak memory grows with
  ``batch_size``, never with the number of examples.

Results do not depend on ``batch_size`` beyond float noise (tests pin 1e-4 in
float32): a spurious flip would be reported as instability.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.task import Example

# Right padding is masked and never scored, so any valid token id will do.
PAD_ID = 0


@dataclass(frozen=True)
class ChoiceScores:
    """Per choice: summed log-likelihood of its continuation tokens, and how many tokens that is."""

    logliks: list[float]
    n_tokens: list[int]


@dataclass(frozen=True)
class _Pending:
    """One example to score: its index, its own context tokens after the shared prefix, its choices' tokens."""

    example: int
    context: list[int]
    continuations: list[list[int]]


@dataclass(frozen=True)
class _ContextState:
    """What running a group's contexts leaves behind for scoring their choices."""

    cache: list[tuple[torch.Tensor, torch.Tensor]]  # per layer (keys, values), one row per example
    mask: torch.Tensor  # (examples, cached positions): 1 where a cached position is real
    next_logprobs: torch.Tensor  # (examples, vocab): log p(next token | whole context)
    lengths: list[int]  # each example's own context length


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
    order = sorted(range(len(encoded)), key=lambda i: -len(contexts[i]))
    with torch.inference_mode():
        prefix = _run_prefix(model, contexts[0][:shared]) if shared else None
        for chunk in _batches(order, batch_size):
            group = [_Pending(i, contexts[i][shared:], encoded[i][1]) for i in chunk]
            for (i, j), value in _score_group(model, group, prefix, shared, batch_size).items():
                logliks[i][j] = value
    return [ChoiceScores(ll, [len(c) for c in conts]) for ll, (_, conts) in zip(logliks, encoded, strict=True)]


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
    cache = model(input_ids=ids, use_cache=True).past_key_values
    return [(layer.keys, layer.values) for layer in cache.layers]


def _cache(model: PreTrainedModel, layers: list[tuple[torch.Tensor, torch.Tensor]]) -> DynamicCache:
    """A fresh cache holding ``layers`` (forward calls extend a cache in place, so never reuse one)."""
    return DynamicCache(ddp_cache_data=layers, config=model.config)


def _score_group(model: PreTrainedModel, group: list[_Pending], prefix, shared: int, batch_size: int) -> dict:
    """{(example, choice): loglik} for a group of examples: contexts run once, then every choice from their cache.

    A choice's first token is read off the context's last logits, so single-token
    choices cost no forward pass of their own; longer choices feed their other
    tokens on top of their example's cached context, ``batch_size`` rows at a time.
    """
    state = _run_contexts(model, group, prefix, shared)
    scores = {}
    rows = []
    for e, pending in enumerate(group):
        for j, cont in enumerate(pending.continuations):
            scores[pending.example, j] = float(state.next_logprobs[e, cont[0]])
            if len(cont) > 1:
                rows.append((e, j, cont))
    rows.sort(key=lambda row: -len(row[2]))
    for chunk in _batches(rows, batch_size):
        for (e, j, _), value in zip(chunk, _score_continuations(model, state, chunk, shared), strict=True):
            scores[group[e].example, j] += value
    return scores


def _run_contexts(model: PreTrainedModel, group: list[_Pending], prefix, shared: int) -> _ContextState:
    """Run each example's own context (left-padded) on top of the shared prefix, keeping the cache."""
    lengths = [len(p.context) for p in group]
    width = max(lengths)
    ids = torch.full((len(group), width), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(group), shared + width), dtype=torch.long)
    positions = torch.full((len(group), width), shared, dtype=torch.long)
    mask[:, :shared] = 1
    for i, pending in enumerate(group):
        pad = width - lengths[i]
        ids[i, pad:] = torch.tensor(pending.context)
        mask[i, shared + pad :] = 1
        positions[i, pad:] = torch.arange(shared, shared + lengths[i])
    device = model.device
    inputs = {"input_ids": ids.to(device), "attention_mask": mask.to(device), "position_ids": positions.to(device)}
    if prefix is not None:
        inputs["past_key_values"] = _cache(
            model, [(k.expand(len(group), -1, -1, -1), v.expand(len(group), -1, -1, -1)) for k, v in prefix]
        )
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = 1
    out = model(**inputs, use_cache=True)
    cache = [(layer.keys, layer.values) for layer in out.past_key_values.layers]
    return _ContextState(cache, inputs["attention_mask"], torch.log_softmax(out.logits[:, -1].float(), dim=-1), lengths)


def _score_continuations(model: PreTrainedModel, state: _ContextState, rows: list, shared: int) -> list[float]:
    """Summed log p of each row's continuation tokens after the first, fed on top of its example's cache."""
    length = max(len(cont) - 1 for _, _, cont in rows)
    device = model.device
    examples = torch.tensor([e for e, _, _ in rows], device=device)
    ids = torch.full((len(rows), length), PAD_ID, dtype=torch.long)
    own = torch.zeros((len(rows), length), dtype=torch.long)
    positions = torch.zeros((len(rows), length), dtype=torch.long)
    targets = torch.zeros((len(rows), length), dtype=torch.long)
    for i, (e, _, cont) in enumerate(rows):
        n = len(cont) - 1
        ids[i, :n], targets[i, :n], own[i, :n] = torch.tensor(cont[:-1]), torch.tensor(cont[1:]), 1
        positions[i] = torch.arange(shared + state.lengths[e], shared + state.lengths[e] + length)
    inputs = {
        "input_ids": ids.to(device),
        "attention_mask": torch.cat([state.mask.index_select(0, examples), own.to(device)], dim=-1),
        "position_ids": positions.to(device),
        "past_key_values": _cache(
            model, [(k.index_select(0, examples), v.index_select(0, examples)) for k, v in state.cache]
        ),
    }
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = length
    logits = model(**inputs, use_cache=True).logits[:, -length:].float()
    targets, scored = targets.to(device), own.to(device).bool()
    logprobs = logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return torch.where(scored, logprobs, 0.0).sum(-1).tolist()


def supports_logits_to_keep(model: PreTrainedModel) -> bool:
    """Most causal LMs can skip the vocabulary projection for positions nobody scores."""
    return "logits_to_keep" in inspect.signature(model.forward).parameters
