"""Perplexity and bits-per-byte of text, so loss can be tracked next to downstream scores.

A document is scored the way lm-evaluation-harness scores ``loglikelihood_rolling``
tasks (wikitext): its tokens are cut into disjoint windows of the model's
length; the first window stands on the end-of-text token, every later one is
conditioned on the ``window`` tokens before it, so every token is predicted
exactly once with as much context as fits. Reported per document: summed
negative log-likelihood (nats), tokens, UTF-8 bytes and words, from which

- token perplexity ``exp(nll / tokens)`` (depends on the tokenizer),
- bits per byte ``nll / bytes / ln 2`` (comparable across tokenizers),
- word perplexity ``exp(nll / words)`` (lm-eval's ``word_perplexity``).

A perplexity task file is a ``.txt`` file, the whole file one document;
``ckptlens eval --tasks valid.txt`` stores its record (``nll``, ``n_tokens``,
``n_bytes``) per checkpoint. From Python, ``text_loss`` takes any list of texts.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.scoring import boundary_token, max_positions
from ckptlens.evaluation.tree_batch import PAD_ID, supports_logits_to_keep


@dataclass(frozen=True)
class TextLoss:
    """Summed negative log-likelihood of one document, with the counts to normalise it."""

    nll: float  # nats, summed over every token of the document
    tokens: int
    bytes: int
    words: int

    @property
    def bits_per_byte(self) -> float:
        return self.nll / self.bytes / math.log(2)

    @property
    def token_perplexity(self) -> float:
        return math.exp(self.nll / self.tokens)

    @property
    def word_perplexity(self) -> float:
        return math.exp(self.nll / self.words)


def text_loss(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    texts: Sequence[str],
    batch_size: int = 4,
    window: int | None = None,
) -> list[TextLoss]:
    """Loss of each text under the model, in rolling windows of ``window`` tokens (default: the model's length).

    Peak memory is about ``batch_size * window * vocabulary`` logits.

    ``model`` and ``tokenizer`` here are a tiny random checkpoint (the doctest workspace), so the loss is high:

    >>> loss = text_loss(model, tokenizer, ["The capital of France is Paris."])[0]
    >>> loss.bits_per_byte > 0, loss.bytes
    (True, 31)
    """
    window = window or max_positions(model) or 2048
    if batch_size < 1 or window < 2:
        raise CkptlensError(f"batch size must be at least 1 and window at least 2, got {batch_size} and {window}")
    start = boundary_token(tokenizer)
    pieces = []  # (document, model input, tokens it predicts)
    counts = []
    for doc, text in enumerate(texts):
        ids = list(tokenizer(text, add_special_tokens=False)["input_ids"])
        if not ids:
            raise CkptlensError(f"text {doc} has no tokens; drop empty documents")
        counts.append(len(ids))
        pieces += [(doc, inputs, targets) for inputs, targets in rolling_windows(ids, start, window)]
    nll = [0.0] * len(texts)
    pieces.sort(key=lambda p: -len(p[1]))
    with torch.inference_mode():
        for begin in range(0, len(pieces), batch_size):
            batch = pieces[begin : begin + batch_size]
            for (doc, _, _), value in zip(batch, _batch_nll(model, batch), strict=True):
                nll[doc] += value
    return [TextLoss(nll[i], counts[i], len(t.encode()), _words(t)) for i, t in enumerate(texts)]


def rolling_windows(ids: list[int], start: int, window: int) -> list[tuple[list[int], list[int]]]:
    """(model input, tokens it predicts) pairs covering ``ids`` once, as lm-eval's rolling windows.

    >>> rolling_windows([1, 2, 3, 4, 5], start=0, window=2)
    [([0, 1], [1, 2]), ([2, 3], [3, 4]), ([3, 4], [5])]
    """
    first = min(window, len(ids))
    pairs = [([start] + ids[: first - 1], ids[:first])]
    done = first
    while done < len(ids):
        n = min(len(ids) - done, window)
        end = done + n
        pairs.append((ids[max(end - window - 1, 0) : end - 1], ids[end - n : end]))
        done = end
    return pairs


def _batch_nll(model: PreTrainedModel, batch: list) -> list[float]:
    """Summed -log p of each window's targets; windows are left-padded so targets sit in the last columns."""
    length = max(len(inputs) for _, inputs, _ in batch)
    kept = max(len(targets) for _, _, targets in batch)
    ids = torch.full((len(batch), length), PAD_ID, dtype=torch.long)
    real = torch.zeros((len(batch), length), dtype=torch.bool)
    target_ids = torch.zeros((len(batch), kept), dtype=torch.long)
    scored = torch.zeros((len(batch), kept), dtype=torch.bool)
    for row, (_, inputs, targets) in enumerate(batch):
        ids[row, length - len(inputs) :] = torch.tensor(inputs)
        real[row, length - len(inputs) :] = True
        target_ids[row, kept - len(targets) :] = torch.tensor(targets)
        scored[row, kept - len(targets) :] = True
    device = model.device
    inputs = {
        "input_ids": ids.to(device),
        "position_ids": (real.long().cumsum(-1) - 1).clamp(min=0).to(device),
        "attention_mask": _padded_causal_mask(real, model.dtype).to(device),
    }
    if supports_logits_to_keep(model):
        inputs["logits_to_keep"] = kept
    logits = model(**inputs, use_cache=False).logits[:, -kept:].float()
    target_ids, scored = target_ids.to(device), scored.to(device)
    logprobs = logits.gather(-1, target_ids[..., None]).squeeze(-1) - torch.logsumexp(logits, dim=-1)
    return (-torch.where(scored, logprobs, 0.0).sum(-1)).tolist()


def _padded_causal_mask(real: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Additive (rows, 1, length, length) causal mask hiding left padding; a pad query sees itself (no NaN)."""
    length = real.shape[1]
    allowed = torch.ones(length, length, dtype=torch.bool).tril() & real[:, None, :]
    allowed |= torch.eye(length, dtype=torch.bool)
    return torch.zeros(allowed.shape, dtype=dtype).masked_fill(~allowed, torch.finfo(dtype).min)[:, None]


def _words(text: str) -> int:
    return max(len(re.split(r"\s+", text.strip())), 1)
