"""Generation tasks: batched greedy decoding and the reference-based scores.

Decoding is a hand-rolled greedy loop over a KV cache: contexts are
left-padded with an attention mask and explicit position ids, so a row's
tokens and positions are the same whatever else shares its batch, and the
output does not depend on ``batch_size``. A row stops at end-of-text or when
its decoded text contains a stop sequence; the batch stops when every row has.

The stored output is the prediction the task's answer rule reads from the
generated text (by default: stripped, so ``" 17"`` matches ``"17\\n"``; case and
inner whitespace count), scored by the task's metrics from
:mod:`ckptlens.tasks.metrics`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.scoring import boundary_token, max_positions
from ckptlens.evaluation.tree_batch import PAD_ID, cache_argument, supports_logits_to_keep
from ckptlens.tasks.metrics import ANSWER_RULES, score_examples
from ckptlens.tasks.task import Example, Task


def generate_greedy(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    examples: Sequence[Example],
    stop: Sequence[str] = ("\n",),
    max_new_tokens: int = 16,
    batch_size: int = 32,
) -> list[str]:
    """The greedy continuation of each example's context, cut before the first stop sequence.

    ``model`` and ``tokenizer`` here are a tiny random checkpoint (the doctest workspace), so the text is noise:

    >>> outputs = generate_greedy(model, tokenizer, [Example("s1", "one plus two equals", target=" three")],
    ...                           max_new_tokens=3)
    >>> len(outputs), isinstance(outputs[0], str)
    (1, True)
    """
    if batch_size < 1:
        raise CkptlensError(f"batch size must be at least 1, got {batch_size}")
    contexts = [_context_tokens(tokenizer, e.context) for e in examples]
    _check_lengths(examples, contexts, max_new_tokens, max_positions(model))
    order = sorted(range(len(examples)), key=lambda i: -len(contexts[i]))
    outputs = [""] * len(examples)
    with torch.inference_mode():
        for start in range(0, len(order), batch_size):
            chunk = order[start : start + batch_size]
            texts = _generate_batch(model, tokenizer, [contexts[i] for i in chunk], stop, max_new_tokens)
            for i, text in zip(chunk, texts, strict=True):
                outputs[i] = text
    return outputs


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


def _left_padded(contexts: list[list[int]], device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    length = max(len(c) for c in contexts)
    ids = torch.full((len(contexts), length), PAD_ID, dtype=torch.long)
    mask = torch.zeros((len(contexts), length), dtype=torch.long)
    for i, ctx in enumerate(contexts):
        ids[i, length - len(ctx) :] = torch.tensor(ctx)
        mask[i, length - len(ctx) :] = 1
    return ids.to(device), mask.to(device)


def _generate_batch(model, tokenizer, contexts: list[list[int]], stop: Sequence[str], max_new_tokens: int) -> list[str]:
    """Greedy decoding of one batch; rows that have stopped keep running but are ignored."""
    ids, mask = _left_padded(contexts, model.device)
    positions = (mask.cumsum(-1) - 1).clamp(min=0)
    cache = DynamicCache(config=model.config)
    generated: list[list[int]] = [[] for _ in contexts]
    texts = [""] * len(contexts)
    done = [False] * len(contexts)
    options = {cache_argument(model): cache, **({"logits_to_keep": 1} if supports_logits_to_keep(model) else {})}
    for _ in range(max_new_tokens):
        logits = model(input_ids=ids, attention_mask=mask, position_ids=positions, use_cache=True, **options).logits
        next_ids = logits[:, -1, :].argmax(-1)
        for i, token in enumerate(next_ids.tolist()):
            if not done[i]:
                texts[i], done[i] = _extend(tokenizer, generated[i], token, stop)
        if all(done):
            break
        ids = next_ids[:, None]
        mask = torch.cat([mask, mask.new_ones((len(contexts), 1))], dim=-1)
        positions = positions[:, -1:] + 1
    return texts


def _extend(tokenizer: PreTrainedTokenizerBase, generated: list[int], token: int, stop: Sequence[str]):
    """Append ``token`` to a row; its text so far and whether the row is finished."""
    if token == tokenizer.eos_token_id:
        return tokenizer.decode(generated, skip_special_tokens=True), True
    generated.append(token)
    return cut_at_stop(tokenizer.decode(generated, skip_special_tokens=True), stop)
