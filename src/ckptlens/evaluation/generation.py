"""Generation tasks: batched greedy decoding and the reference-based scores.

Decoding is a hand-rolled greedy loop over a KV cache
(:mod:`ckptlens.evaluation.shared_prefix`): the token prefix all contexts share
(fixed few-shot demonstrations) runs once and is kept once; each row's own keys
and values are written in place. The rest of each context is left-padded, with
its real tokens marked and explicit position ids, so a row's tokens and
positions are the same whatever else shares its batch, and the output does not
depend on ``batch_size``. Where the row cache serves, each pass after the first
also runs tokens drafted from the row's own text
(:mod:`ckptlens.evaluation.prompt_lookup`) and keeps those the model's argmax
agrees with: the same tokens in fewer passes. A row stops at end-of-text or when
its newly decoded tokens complete a stop sequence, or at ``max_new_tokens``, and
then leaves the batch (its cache rows too); the batch stops when every row has.

The stored output is the prediction the task's answer rule reads from the
generated text (by default: stripped, so ``" 17"`` matches ``"17\\n"``; case and
inner whitespace count), scored by the task's metrics from
:mod:`ckptlens.tasks.metrics`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from typing import TYPE_CHECKING, Protocol

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.prompt_lookup import LONGEST, PromptLookup
from ckptlens.evaluation.scoring import boundary_token, max_positions
from ckptlens.evaluation.shared_prefix import RowCache, SharedPrefix, rows_attending
from ckptlens.evaluation.tree_batch import PAD_ID, cache_argument, supports_logits_to_keep
from ckptlens.tasks.metrics import ANSWER_RULES, score_examples
from ckptlens.tasks.task import Example, Task

if TYPE_CHECKING:
    from ckptlens.evaluation.context_states import ContextStates  # which imports this module's encoding


def generate_greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    stop: Sequence[str] = ("\n",),
    max_new_tokens: int = 16,
    batch_size: int = 32,
    *,
    batch_tokens: int | None = None,
    max_context: int | None = None,
    states: ContextStates | None = None,
) -> list[str]:
    """The greedy continuation of each example's context, cut before the first stop sequence.

    ``batch_tokens`` caps a batch's rows x (context + new tokens), the KV cache it holds (None: no cap);
    ``max_context`` keeps each context's last tokens, as lm-eval left-truncates (None: a too-long context is
    an error); ``states``, when given, collects each context's hidden states from the same passes.

    ``model`` and ``tokenizer`` here are a tiny random checkpoint (the doctest workspace), so the text is noise:

    >>> outputs = generate_greedy(model, tokenizer, [Example("s1", "one plus two equals", target=" three")],
    ...                           max_new_tokens=3)
    >>> len(outputs), isinstance(outputs[0], str)
    (1, True)
    """
    if batch_size < 1:
        raise CkptlensError(f"batch size must be at least 1, got {batch_size}")
    contexts = [_context_tokens(tokenizer, e.context) for e in examples]
    if max_context is not None:
        contexts = [c[-max_context:] for c in contexts]
    _check_lengths(examples, contexts, max_new_tokens, max_positions(model))
    order = sorted(range(len(examples)), key=lambda i: -len(contexts[i]))
    outputs = [""] * len(examples)
    decoder = _Decoder(tokenizer, tuple(stop))
    with torch.inference_mode():
        prefix = SharedPrefix.of(model, contexts, states)
        for chunk in _batches(order, contexts, max_new_tokens, batch_size, batch_tokens):
            prompts = None if states is None else functools.partial(states.add_prompts, chunk)
            texts = _generate_batch(model, decoder, prefix, [contexts[i] for i in chunk], max_new_tokens, prompts)
            for i, text in zip(chunk, texts, strict=True):
                outputs[i] = text
    return outputs


def _batches(order: list[int], contexts, max_new_tokens: int, batch_size: int,
             batch_tokens: int | None) -> list[list[int]]:
    """Rows longest first, at most ``batch_size`` a batch and, with a budget, rows x (longest context + new
    tokens) <= ``batch_tokens``: the KV cache a batch holds at its last step. A longer row runs alone."""
    batches: list[list[int]] = []
    for i in order:
        if batches:
            batch = batches[-1]
            width = len(contexts[batch[0]]) + max_new_tokens  # its first row is its longest
            if len(batch) < batch_size and (batch_tokens is None or (len(batch) + 1) * width <= batch_tokens):
                batch.append(i)
                continue
        batches.append([i])
    return batches


def generation_rows(task: Task, examples: Sequence[Example], outputs: Sequence[str]) -> list[dict]:
    """The records of generated outputs: each prediction (the task's answer rule), every metric, the score.

    The score is the task's first metric; the metrics map holds them all (``tasks.metrics``). Metrics scored by a
    model (COMET) run once over all the examples, with each example's source.
    """
    predictions = [ANSWER_RULES[task.answer_rule](output) for output in outputs]
    scored = [i for i, e in enumerate(examples) if e.target is not None]
    metrics = score_examples(task.metrics, [predictions[i] for i in scored], [examples[i].target for i in scored],
                             [examples[i].source or "" for i in scored], task.comet_model)
    by_index = dict(zip(scored, metrics, strict=True))
    return [_row(e, p, by_index.get(i), task.metrics[0]) for i, (e, p) in enumerate(zip(examples, predictions))]


def _row(example: Example, prediction: str, metrics: dict[str, float] | None, score_metric: str) -> dict:
    if metrics is None:
        return {"example_id": example.id, "output": prediction, "target": None, "correct": None, "score": None}
    score = metrics[score_metric]
    return {
        "example_id": example.id,
        "output": prediction,
        "target": example.target,
        "correct": score == 1.0,
        "score": score,
        "metrics": metrics,
    }


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """``text`` up to the earliest stop sequence (excluded), and whether one was found.

    >>> cut_at_stop(" 17\\nQ: next", ("\\n",))
    (' 17', True)
    """
    cuts = [text.find(s) for s in stop if s and s in text]
    return (text[: min(cuts)], True) if cuts else (text, False)


def _context_tokens(tokenizer: PreTrainedTokenizerBase, context: str) -> list[int]:
    ids = list(tokenizer(context, add_special_tokens=False)["input_ids"])
    return ids or [boundary_token(tokenizer)]


def _check_lengths(examples: Sequence[Example], contexts, max_new_tokens: int, limit: int | None) -> None:
    if limit is None:
        return
    for example, ctx in zip(examples, contexts, strict=True):
        if len(ctx) + max_new_tokens > limit:
            raise CkptlensError(
                f"example {example.id!r} needs {len(ctx)} context + {max_new_tokens} new tokens, "
                f"more than the model's {limit} positions; shorten its context or lower max_new_tokens"
            )


class _Decoder:
    """Each row's text, checked for stop sequences on its newly decoded tokens only.

    A stop sequence that ends at the newest token lies within the last ``window`` tokens (a token carries at
    least one byte, a character at most four), so only that tail is decoded at each step; the whole output is
    decoded once, when the tail holds a stop or the row ends, and cut as before (``cut_at_stop``).
    """

    def __init__(self, tokenizer: PreTrainedTokenizerBase, stop: tuple[str, ...]):
        self.tokenizer, self.stop = tokenizer, tuple(s for s in stop if s)
        self.window = 4 * max((len(s) for s in self.stop), default=0) + 2

    def text(self, generated: list[int]) -> str:
        return self.tokenizer.decode(generated, skip_special_tokens=True)

    def step(self, generated: list[int], token: int) -> tuple[str | None, bool]:
        """Append ``token``; (the final text, True) once the row is done, else (None, False)."""
        if token == self.tokenizer.eos_token_id:
            return self.text(generated), True
        generated.append(token)
        if not self.stop or not any(s in self.text(generated[-self.window :]) for s in self.stop):
            return None, False
        text, found = cut_at_stop(self.text(generated), self.stop)
        return (text, True) if found else (None, False)


def _left_padded(contexts: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(c) for c in contexts)
    ids = torch.full((len(contexts), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(contexts), length), dtype=torch.long)
    for i, ctx in enumerate(contexts):
        ids[i, length - len(ctx) :] = torch.tensor(ctx)
        mask[i, length - len(ctx) :] = 1
    return ids.to(device), mask.to(device)


def _generate_batch(model, decoder: _Decoder, prefix: SharedPrefix, contexts: list[list[int]],
                    max_new_tokens: int, prompts: Callable | None) -> list[str]:
    """Greedy decoding of one batch after the shared prefix; a finished row leaves the batch and its cache.
    ``prompts`` (if any) gets the first pass's hidden states and the rows' real tokens."""
    rows = [c[prefix.length :] for c in contexts]
    ids, mask = _left_padded(rows, model.device)
    seen = None if prompts is None else functools.partial(prompts, real=mask)
    positions = (prefix.length + mask.cumsum(-1) - 1).clamp(min=prefix.length)
    if prefix.in_place(model):  # the cache holds the prefix once and knows which of the rows' tokens are real
        cache = prefix.row_cache(model, mask, ids.shape[1] + max_new_tokens + LONGEST)
        steps: _Steps = _DraftedSteps(cache, PromptLookup(contexts))
        attending = rows_attending(model, cache)
    else:
        mask = torch.cat([mask.new_ones((len(rows), prefix.length)), mask], dim=-1)
        steps, attending = _PlainSteps(prefix.plain_cache(model, len(rows)), mask), nullcontext()
    with attending:
        return _decode(model, decoder, steps, ids, positions, max_new_tokens, seen)


def _decode(model, decoder: _Decoder, steps: _Steps, ids: torch.Tensor, positions: torch.Tensor,
            max_new_tokens: int, seen: Callable | None) -> list[str]:
    """The greedy loop: each pass's tokens (the model's argmax after each query, as far as a row's drafted tokens
    agree with it), each row's stop check, finished rows out of the batch and cache; ``seen`` (if any) gets the
    first pass's hidden states."""
    rows = ids.shape[0]
    if max_new_tokens < 1:
        return [""] * rows
    generated: list[list[int]] = [[] for _ in range(rows)]
    texts: list[str | None] = [None] * rows
    counts = [0] * rows  # tokens decoded per row, an end-of-text included
    live = list(range(rows))  # the rows still in the batch, in batch order
    drafts: list[list[int]] = [[] for _ in live]
    limit = (max_positions(model) or 2**62) - 1  # a padding query may run past it: its keys are never kept
    options = {cache_argument(model): steps.cache}
    keeps_logits = supports_logits_to_keep(model)
    first = True
    while True:
        if keeps_logits:
            options["logits_to_keep"] = 1 if first else ids.shape[1]
        output = model(input_ids=ids, attention_mask=steps.mask, position_ids=positions.clamp(max=limit),
                       use_cache=True, output_hidden_states=first and seen is not None, **options)
        if first and seen is not None:
            seen(output.hidden_states)
        predicted = output.logits[:, -(1 if first else ids.shape[1]) :, :].argmax(-1).tolist()
        kept, accepted = [], []
        for b, row in enumerate(live):
            tokens = _agreed(drafts[b], predicted[b])
            steps.record(row, len(drafts[b]), len(tokens) - 1)
            accepted.append(ids.shape[1] if first else len(tokens))
            texts[row], counts[row], done = _take(decoder, generated[row], tokens, counts[row], max_new_tokens)
            if not done:
                kept.append(b)
        steps.advance(accepted)
        if not kept:
            break
        if len(kept) < len(live):
            kept = steps.keep(kept)
            live = [live[b] for b in kept]
        moved = torch.tensor([1 if first else accepted[b] for b in kept], device=ids.device)
        after = positions[kept, -1 if first else 0] + moved  # the position of each row's next query
        drafts = [steps.draft(row, generated[row], max_new_tokens - counts[row] - 1) for row in live]
        ids, positions = _next_queries(generated, live, drafts, after)
        first = False
    return [decoder.text(g) if t is None else t for g, t in zip(generated, texts, strict=True)]


def _agreed(draft: list[int], predicted: list[int]) -> list[int]:
    """The tokens a pass decoded for a row: the model's first, then each next as long as the previous one is the
    drafted token there (so it was the input the next prediction saw).

    >>> _agreed([7, 8, 9], [7, 8, 5, 4])
    [7, 8, 5]
    """
    taken = 0
    while taken < len(draft) and draft[taken] == predicted[taken]:
        taken += 1
    return predicted[: taken + 1]


def _take(decoder: _Decoder, generated: list[int], tokens: list[int], count: int,
          max_new_tokens: int) -> tuple[str | None, int, bool]:
    """A row's tokens from one pass, in order, up to where the row ends (a stop, end-of-text or the token limit):
    its final text (None while it goes on), its count of decoded tokens, whether it ended."""
    for token in tokens:
        text, done = decoder.step(generated, token)
        count += 1
        if done or count == max_new_tokens:
            return text, count, True
    return None, count, False


def _next_queries(generated: list[list[int]], live: list[int], drafts: list[list[int]],
                  after: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each row's last token and its draft, padded to the longest draft with the last token (whose keys are
    written after the row's kept positions and never kept), and their positions from ``after``."""
    width = 1 + max(len(d) for d in drafts)
    queries = [[generated[row][-1], *draft] + [generated[row][-1]] * (width - 1 - len(draft))
               for row, draft in zip(live, drafts, strict=True)]
    ids = torch.tensor(queries, device=after.device)
    return ids, after[:, None] + torch.arange(width, device=after.device)


class _Steps(Protocol):
    """What the greedy loop asks of its cache: the plain one (:class:`_PlainSteps`) or the row cache with drafted
    tokens (:class:`_DraftedSteps`)."""

    cache: object
    mask: torch.Tensor | None

    def draft(self, row: int, generated: list[int], room: int) -> list[int]: ...

    def record(self, row: int, drafted: int, accepted: int) -> None: ...

    def advance(self, accepted: list[int]) -> None: ...

    def keep(self, kept: list[int]) -> list[int]:
        """Keep the rows at ``kept``; their order in the batch from now on."""


class _PlainSteps:
    """transformers' own cache, which appends each pass whole: one token a row and step, a growing padding mask."""

    def __init__(self, cache: DynamicCache, mask: torch.Tensor):
        self.cache, self.mask = cache, mask

    def draft(self, row: int, generated: list[int], room: int) -> list[int]:
        return []

    def record(self, row: int, drafted: int, accepted: int) -> None:
        pass

    def advance(self, accepted: list[int]) -> None:
        self.mask = torch.cat([self.mask, self.mask.new_ones((self.mask.shape[0], 1))], dim=-1)

    def keep(self, kept: list[int]) -> list[int]:
        index = torch.tensor(kept, device=self.mask.device)
        self.cache.batch_select_indices(index)
        self.mask = self.mask[index]
        return kept


class _DraftedSteps:
    """The row cache, which keeps what each row accepted of a pass, and each row's drafted tokens
    (:mod:`ckptlens.evaluation.prompt_lookup`); the cache holds the mask."""

    mask = None

    def __init__(self, cache: RowCache, lookup: PromptLookup):
        self.cache, self.lookup = cache, lookup

    def draft(self, row: int, generated: list[int], room: int) -> list[int]:
        return self.lookup.draft(row, generated, room)

    def record(self, row: int, drafted: int, accepted: int) -> None:
        self.lookup.record(row, drafted, accepted)

    def advance(self, accepted: list[int]) -> None:
        self.cache.advance(accepted)

    def keep(self, kept: list[int]) -> list[int]:
        return self.cache.keep(kept)
