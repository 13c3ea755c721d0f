"""Perplexity: rolling windows like lm-eval, a naive reference, batch invariance, records in the store."""

import math

import pytest
import torch

from ckptlens.evaluation.perplexity import rolling_windows, text_loss
from ckptlens.evaluation.runner import evaluate_task
from ckptlens.tasks.resolve import resolve_tasks

TEXTS = ["the cat runs and the dog sleeps .", "red blue green " * 12, "one"]


def _naive_nll(model, tok, text: str, window: int) -> float:
    """Reference: each window run alone, no padding, no batching."""
    ids = tok(text, add_special_tokens=False)["input_ids"]
    total = 0.0
    for inputs, targets in rolling_windows(ids, tok.eos_token_id, window):
        with torch.no_grad():
            logprobs = torch.log_softmax(model(input_ids=torch.tensor([inputs])).logits[0].float(), -1)
        tail = logprobs[len(inputs) - len(targets) :]
        total -= sum(float(tail[i, t]) for i, t in enumerate(targets))
    return total


def test_windows_cover_every_token_once():
    ids = list(range(10, 33))
    pairs = rolling_windows(ids, start=0, window=8)
    assert [t for _, t in pairs for t in t] == ids
    assert all(len(inputs) <= 8 for inputs, _ in pairs)
    assert pairs[0][0] == [0] + ids[:7]
    for inputs, targets in pairs[1:]:
        assert inputs == ids[ids.index(targets[-1]) - len(inputs) : ids.index(targets[-1])]


@pytest.mark.parametrize("window", [8, 256])
def test_matches_naive_reference(model_and_tokenizer, window):
    model, tok = model_and_tokenizer
    losses = text_loss(model, tok, TEXTS, batch_size=3, window=window)
    for loss, text in zip(losses, TEXTS, strict=True):
        assert loss.nll == pytest.approx(_naive_nll(model, tok, text, window), abs=1e-3)
        assert loss.bytes == len(text.encode()) and loss.tokens == len(tok(text, add_special_tokens=False)["input_ids"])
        assert loss.bits_per_byte == pytest.approx(loss.nll / loss.bytes / math.log(2))


def test_batch_size_does_not_change_the_loss(model_and_tokenizer):
    model, tok = model_and_tokenizer
    one = text_loss(model, tok, TEXTS, batch_size=1, window=8)
    many = text_loss(model, tok, TEXTS, batch_size=16, window=8)
    assert max(abs(a.nll - b.nll) for a, b in zip(one, many, strict=True)) < 1e-4


def test_txt_file_is_a_perplexity_task_with_records(model_and_tokenizer, tmp_path):
    model, tok = model_and_tokenizer
    (tmp_path / "valid.txt").write_text(TEXTS[1])
    task = resolve_tasks([str(tmp_path / "valid.txt")])[0]
    assert task.kind == "perplexity"
    row = evaluate_task(model, tok, task)[0]
    assert row["nll"] == pytest.approx(text_loss(model, tok, [TEXTS[1]])[0].nll)
    assert (
        row["n_bytes"] == len(TEXTS[1].encode()) and row["n_tokens"] > 0 and row["score"] is None
        if "score" in row
        else True
    )
