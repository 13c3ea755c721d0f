"""The reference the engine is checked against: one plain forward of context + choice per choice."""

import torch

from ckptlens.evaluation.scoring import encode_pair
from ckptlens.tasks.task import Example


def direct_logliks(model, tokenizer, example: Example) -> list[float]:
    """Sum of log-softmax over each choice's tokens: no cache, no batching, no prefix tree."""
    logliks = []
    for choice in example.choices:
        ctx, cont = encode_pair(tokenizer, example.context, choice)
        with torch.no_grad():
            logits = model(input_ids=torch.tensor([ctx + cont])).logits[0].float()
        logprobs = torch.log_softmax(logits, dim=-1)
        logliks.append(sum(float(logprobs[len(ctx) - 1 + i, token]) for i, token in enumerate(cont)))
    return logliks
