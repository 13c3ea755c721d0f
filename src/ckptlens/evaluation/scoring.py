"""Multiple choice by log-likelihood: the scoring engine.

Each choice is scored as a continuation of the example's context: the summed
log-probability of its tokens. The context/continuation boundary follows
lm-evaluation-harness exactly (trailing whitespace of the context moves to the
front of the continuation; the continuation tokens are the tail of
``encode(context + continuation)`` after ``len(encode(context))`` tokens), so
numbers are comparable with lm-eval's.

Four things make it fast without changing the numbers:

- every prefix that several contexts share (a task description, fixed
  demonstrations, the same demonstrations drawn for several examples) runs
  once: the contexts form a prefix tree (``prefix_tree``), each shared node runs
  once on top of its parent's KV cache, and its cache is dropped once the
  examples below it are scored;
- each example's own context runs once, whatever its number of choices
  (lm-eval re-runs it for every multi-token choice): an example is one row,
  ``[context | choice 0 | choice 1 | ...]``, with a tree-shaped attention mask
  (``tree_batch``), so one forward pass scores every choice; a choice's first
  token is read off the context's last logits, so single-token choices add no
  tokens at all;
- rows are sorted by length and batched by a token budget (``batch_tokens``:
  rows x padded length, the choices' columns included) and at most
  ``batch_size`` rows, so padding is small, short and long examples both fill
  a pass, and peak memory follows the budget, never the number of examples;
  rows continuing different prefixes share a pass (their pasts padded and
  masked);
- a series tokenises a task once (``encode_examples`` then ``score_encoded``).

With ``states`` (``eval --representations``), the same passes also return the model's hidden states, from which
``context_states.ContextStates`` keeps each context's mean-pooled and last-token state per layer.

Results do not depend on the batching beyond float noise (tests pin 1e-4 in
float32): a spurious flip would be reported as instability.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.prefix_tree import needed_tokens, plan_prefixes
from ckptlens.evaluation.tree_batch import NodeCaches, Row, TokenCount, batches, forward, node_segments
from ckptlens.tasks.task import Example

if TYPE_CHECKING:
    from ckptlens.evaluation.context_states import ContextStates  # which imports this module's encoding

Encoded = tuple[list[int], list[list[int]]]  # an example's context tokens, each choice's continuation tokens


@dataclass(frozen=True)
class ChoiceScores:
    """Per choice: summed log-likelihood of its continuation tokens, how many tokens that is, and is-greedy.

    ``greedy[j]``: every token of choice j is the model's argmax (lm-eval's ``is_greedy``).
    """

    logliks: list[float]
    n_tokens: list[int]
    greedy: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Batching:
    """How examples are grouped into forward passes; the results do not depend on it beyond float noise."""

    batch_size: int = 32  # rows (examples) per pass at most
    batch_tokens: int | None = None  # rows x padded length per pass at most (None: no token budget)
    share_prefix: bool = True  # False: every context runs whole (same numbers, slower; to measure the gain)

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise CkptlensError(f"--batch-size must be at least 1, got {self.batch_size}")
        if self.batch_tokens is not None and self.batch_tokens < 1:
            raise CkptlensError(f"--batch-tokens must be at least 1, got {self.batch_tokens}")


def score_multiple_choice(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    batch_size: int = 32,
    share_prefix: bool = True,
    batch_tokens: int | None = None,
    count: TokenCount | None = None,
) -> list[ChoiceScores]:
    """Summed log-likelihood of every choice of every example, in input order.

    ``share_prefix=False`` skips the prefix caches (same numbers, slower; kept
    to measure and test the speed-up). ``count`` adds up the positions run and
    the positions that had to run (token efficiency).

    ``model`` and ``tokenizer`` here are a tiny random checkpoint (the doctest workspace):

    >>> ex = Example("q1", "Q: What is the capital of France?\\nA:", (" Paris", " Rome"), gold=0)
    >>> logliks = score_multiple_choice(model, tokenizer, [ex])[0].logliks
    >>> len(logliks), all(value < 0 for value in logliks)
    (2, True)
    """
    batching = Batching(batch_size, batch_tokens, share_prefix)
    return score_encoded(model, examples, encode_examples(tokenizer, examples), batching, count)


def encode_examples(tokenizer: PreTrainedTokenizerBase, examples: Sequence[Example]) -> list[Encoded]:
    """Every example's tokens (``encode_example``): computed once, scored on every checkpoint sharing the tokenizer."""
    return [encode_example(tokenizer, e) for e in examples]


def score_encoded(
    model: PreTrainedModel,
    examples: Sequence[Example],
    encoded: Sequence[Encoded],
    batching: Batching = Batching(),
    count: TokenCount | None = None,
    states: ContextStates | None = None,
) -> list[ChoiceScores]:
    """``score_multiple_choice`` on examples already encoded with the model's tokenizer; ``states`` collects the
    contexts' hidden states from the same passes."""
    _check_lengths(examples, encoded, max_positions(model))
    contexts = [ctx for ctx, _ in encoded]
    plan = plan_prefixes(contexts, batching.share_prefix)
    caches = NodeCaches(plan.nodes)
    leaves = [Row(i, plan.leaf_parent[i], plan.leaf_start[i], ctx[plan.leaf_start[i] :], conts)
              for i, (ctx, conts) in enumerate(encoded)]  # fmt: skip
    logliks = [[0.0] * len(conts) for _, conts in encoded]
    greedy = [[True] * len(conts) for _, conts in encoded]
    with torch.inference_mode():
        _run_nodes(model, caches, batching, count, states)
        for batch in batches(sorted(leaves, key=lambda r: -r.length), batching.batch_size, batching.batch_tokens):
            for (i, j), (value, is_greedy) in _score_rows(model, batch, caches, count, states).items():
                logliks[i][j], greedy[i][j] = value, is_greedy
            for row in batch:
                caches.release(row.past)
    if count is not None:
        count.needed += needed_tokens([ctx + c[:-1] for ctx, conts in encoded for c in conts])
    return [
        ChoiceScores(ll, [len(c) for c in conts], g) for ll, g, (_, conts) in zip(logliks, greedy, encoded, strict=True)
    ]


def run_contexts(model: PreTrainedModel, contexts: Sequence[list[int]], batching: Batching,
                 states: ContextStates) -> None:  # fmt: skip
    """Run contexts with no choices through the prefix tree only to fill ``states`` (generation's prompts under
    ``eval --representations``): shared prefixes run once, as in scoring."""
    plan = plan_prefixes(contexts, batching.share_prefix)
    caches = NodeCaches(plan.nodes)
    leaves = [Row(i, plan.leaf_parent[i], plan.leaf_start[i], list(ctx[plan.leaf_start[i] :]))
              for i, ctx in enumerate(contexts)]  # fmt: skip
    with torch.inference_mode():
        _run_nodes(model, caches, batching, None, states)
        for batch in batches(sorted(leaves, key=lambda r: -r.length), batching.batch_size, batching.batch_tokens):
            packed, _, _, hidden = forward(model, batch, caches, None, hidden=True)
            states.add_leaves(batch, packed, hidden)
            for row in batch:
                caches.release(row.past)


def split_boundary(context: str, continuation: str) -> tuple[str, str]:
    """Move the context's trailing whitespace to the front of the continuation (lm-eval's rule).

    >>> split_boundary("Q: 2+2?\\nA: ", "4")
    ('Q: 2+2?\\nA:', ' 4')
    """
    stripped = context.rstrip()
    return stripped, context[len(stripped) :] + continuation


def encode_pair(tokenizer: PreTrainedTokenizerBase, context: str, continuation: str) -> tuple[list[int], list[int]]:
    """Context and continuation token ids exactly as lm-evaluation-harness splits them (``encode_choices``)."""
    ctx, (cont,) = encode_choices(tokenizer, context, [continuation])
    return ctx, cont


def encode_choices(
    tokenizer: PreTrainedTokenizerBase, context: str, continuations: Sequence[str]
) -> tuple[list[int], list[list[int]]]:
    """The context's token ids and each continuation's, exactly as lm-evaluation-harness splits them.

    Encoding the whole string keeps the tokenizer's merges across the
    boundary; an empty context becomes the single end-of-text token. The
    context is encoded once and the whole strings in one batched call.
    """
    stripped = split_boundary(context, "")[0]
    tails = [split_boundary(context, c)[1] for c in continuations]
    if not stripped:
        return [boundary_token(tokenizer)], _encode_many(tokenizer, tails)
    ctx, *wholes = _encode_many(tokenizer, [stripped] + [stripped + tail for tail in tails])
    return ctx, [whole[len(ctx) :] for whole in wholes]


def encode_example(tokenizer: PreTrainedTokenizerBase, example: Example) -> tuple[list[int], list[list[int]]]:
    """An example's context tokens and each choice's continuation tokens."""
    if not example.choices:
        raise CkptlensError(f"example {example.id!r} has no choices; a multiple-choice example needs at least one")
    ctx, conts = encode_choices(tokenizer, example.context, example.choices)
    for i, cont in enumerate(conts):
        if not cont:
            raise CkptlensError(
                f"example {example.id!r}: choice {i} ({example.choices[i]!r}) encodes to no tokens; "
                "give every choice some text"
            )
    return ctx, conts


def boundary_token(tokenizer: PreTrainedTokenizerBase) -> int:
    """The token an empty context stands on: end-of-text, else beginning-of-text."""
    for token in (tokenizer.eos_token_id, tokenizer.bos_token_id):
        if token is not None:
            return token
    raise CkptlensError("an example has an empty context and the tokenizer has no eos or bos token; give it a context")


def max_positions(model: PreTrainedModel) -> int | None:
    """How many positions the model was built for, when its config says."""
    return getattr(model.config.get_text_config(), "max_position_embeddings", None)


def _encode_many(tokenizer: PreTrainedTokenizerBase, texts: list[str]) -> list[list[int]]:
    return [list(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


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


def _run_nodes(model: PreTrainedModel, caches: NodeCaches, batching: Batching, count: TokenCount | None,
               states: ContextStates | None) -> None:
    """Run every shared node once, a tree level per round (a node needs its parent's cache), batched like leaves."""
    nodes = caches.nodes
    depth: list[int] = []
    for node in nodes:  # parents come before children
        depth.append(0 if node.parent is None else depth[node.parent] + 1)
    for level in range(max(depth, default=-1) + 1):
        rows = [Row(k, n.parent, n.start, n.tokens) for k, n in enumerate(nodes) if depth[k] == level]
        for batch in batches(sorted(rows, key=lambda r: -r.length), batching.batch_size, batching.batch_tokens):
            packed, _, computed, hidden = forward(model, batch, caches, count, states is not None)
            caches.segments.update(node_segments(batch, computed))
            if states is not None:
                states.add_nodes(batch, packed, hidden)


def _score_rows(model: PreTrainedModel, rows: list[Row], caches: NodeCaches, count: TokenCount | None,
                states: ContextStates | None) -> dict:
    """{(example, choice): (summed loglik, is-greedy)} for rows of examples, in one forward pass."""
    packed, logits, _, hidden = forward(model, rows, caches, count, states is not None)
    if states is not None:
        states.add_leaves(rows, packed, hidden)
    device = logits.device
    index, columns, tokens, examples, choices = (list(v) for v in zip(*packed.scored, strict=True))
    picked = logits[torch.tensor(index, device=device), torch.tensor(columns, device=device)].float()
    targets = torch.tensor(tokens, device=device)
    logprobs = picked.gather(-1, targets[:, None]).squeeze(-1)
    logprobs = (logprobs - torch.logsumexp(picked, dim=-1)).tolist()
    hits = (picked.argmax(-1) == targets).tolist()
    scores: dict = {}
    for example, choice, value, hit in zip(examples, choices, logprobs, hits, strict=True):
        total, greedy = scores.get((example, choice), (0.0, True))
        scores[example, choice] = (total + value, greedy and hit)
    return scores
