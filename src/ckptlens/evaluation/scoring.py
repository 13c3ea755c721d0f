"""Multiple choice by log-likelihood: the scoring engine.

Each choice is scored as a continuation of the example's context: the summed
log-probability of its tokens. The context/continuation boundary follows
lm-evaluation-harness exactly (trailing whitespace of the context moves to the
front of the continuation; the continuation tokens are the tail of
``encode(context + continuation)`` after ``len(encode(context))`` tokens), so
numbers are comparable with lm-eval's.

Two things make it fast without changing the numbers:

- the longest token prefix shared by every context of the call (the few-shot
  demonstrations) runs once; its KV cache is reused by every batch;
- (example, choice) rows are sorted by length and batched, right-padded with an
  attention mask, so padding is small and memory grows with ``batch_size`` only.

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
class _Row:
    """One (example, choice) request: model input after the shared prefix, and the tokens to score."""

    example: int
    choice: int
    input_ids: list[int]  # own context tokens + continuation minus its last token
    targets: list[int]  # continuation tokens
    first: int  # position in input_ids whose logits predict targets[0]


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
    rows = _rows(encoded, shared)
    logliks = [[0.0] * len(conts) for _, conts in encoded]
    with torch.inference_mode():
        prefix = _run_prefix(model, contexts[0][:shared]) if shared else None
        for batch in _batches(rows, batch_size):
            for row, value in zip(batch, _score_batch(model, batch, prefix, shared), strict=True):
                logliks[row.example][row.choice] = value
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


def _rows(encoded, shared: int) -> list[_Row]:
    """Every (example, choice) request, longest first so batches hold similar lengths."""
    rows = [
        _Row(i, j, ctx[shared:] + cont[:-1], cont, len(ctx) - shared - 1)
        for i, (ctx, conts) in enumerate(encoded)
        for j, cont in enumerate(conts)
    ]
    return sorted(rows, key=lambda r: -len(r.input_ids))


def _batches(rows: list[_Row], batch_size: int):
    for start in range(0, len(rows), batch_size):
        yield rows[start : start + batch_size]


def _run_prefix(model: PreTrainedModel, prefix: list[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Run the shared prefix once; its per-layer (keys, values) with batch size 1."""
    ids = torch.tensor([prefix], device=model.device)
    cache = model(input_ids=ids, use_cache=True).past_key_values
    return [(layer.keys, layer.values) for layer in cache.layers]


def _expanded_cache(model: PreTrainedModel, prefix, batch: int) -> DynamicCache:
    """A fresh cache holding the prefix for ``batch`` rows (forward calls extend a cache in place)."""
    layers = [(k.expand(batch, -1, -1, -1), v.expand(batch, -1, -1, -1)) for k, v in prefix]
    return DynamicCache(ddp_cache_data=layers, config=model.config)


def _score_batch(model: PreTrainedModel, batch: list[_Row], prefix, shared: int) -> list[float]:
    """Summed target log-probs of each row of one right-padded batch."""
    length = max(len(r.input_ids) for r in batch)
    ids = torch.full((len(batch), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(batch), shared + length), dtype=torch.long)
    mask[:, :shared] = 1
    for i, row in enumerate(batch):
        ids[i, : len(row.input_ids)] = torch.tensor(row.input_ids)
        mask[i, shared : shared + len(row.input_ids)] = 1
    kept_from = min(r.first for r in batch)
    inputs = {
        "input_ids": ids.to(model.device),
        "attention_mask": mask.to(model.device),
        "position_ids": torch.arange(shared, shared + length, device=model.device).expand(len(batch), -1),
    }
    if prefix is not None:
        inputs["past_key_values"] = _expanded_cache(model, prefix, len(batch))
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = length - kept_from
    else:
        kept_from = 0
    logits = model(**inputs, use_cache=prefix is not None).logits
    return _summed_target_logprobs(logits, batch, kept_from)


def _summed_target_logprobs(logits: torch.Tensor, batch: list[_Row], kept_from: int) -> list[float]:
    """Per row, the float32 sum of log p(target) over its continuation, read off in one device sync.

    ``logits[:, j]`` holds the logits of sequence position ``kept_from + j``.
    """
    targets = torch.zeros(logits.shape[:2], dtype=torch.long)
    scored = torch.zeros(logits.shape[:2], dtype=torch.bool)
    for i, row in enumerate(batch):
        start = row.first - kept_from
        targets[i, start : start + len(row.targets)] = torch.tensor(row.targets)
        scored[i, start : start + len(row.targets)] = True
    logits = logits.float()
    targets, scored = targets.to(logits.device), scored.to(logits.device)
    logprobs = logits.gather(-1, targets[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return torch.where(scored, logprobs, 0.0).sum(-1).tolist()


def supports_logits_to_keep(model: PreTrainedModel) -> bool:
    """Most causal LMs can skip the vocabulary projection for positions nobody scores."""
    return "logits_to_keep" in inspect.signature(model.forward).parameters
