"""What one task gives on one model: a record row per example (the scoring call path of every executor).

``evaluate_task`` dispatches on the task: lm-eval's own tasks go to
``lm_eval_requests``, multiple choice to the prefix-sharing scorer, perplexity
to rolling windows, generation to greedy decoding. The rows carry no run or
checkpoint keys; ``units.evaluate_piece`` adds them.

With a ``ContextStates`` collector (``eval --representations``), native multiple
choice fills it from its own scoring passes; generation and lm-eval's tasks run
their prompts once more, alone, through the same prefix tree (``scoring.run_contexts``:
shared demonstrations once, beside a task's decoding or lm-eval's requests).
"""

from __future__ import annotations

import hashlib

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.evaluation.budget import device_batch_tokens, generation_batch_tokens
from ckptlens.evaluation.context_states import ContextStates, context_tokens
from ckptlens.evaluation.generation import generate_greedy, generation_rows
from ckptlens.evaluation.lm_eval_requests import evaluate_lm_eval_task
from ckptlens.evaluation.perplexity import TextLoss, text_loss
from ckptlens.evaluation.pipeline import Encodings
from ckptlens.evaluation.scoring import Batching, ChoiceScores, max_positions, run_contexts, score_encoded
from ckptlens.tasks.choice import predicted_option
from ckptlens.tasks.task import Example, Task


def evaluate_task(
    model: PreTrainedModel,
    tokenizer: PreTrainedTokenizerBase,
    task: Task,
    batch_size: int = 32,
    batch_tokens: int | None = None,
    encodings: Encodings | None = None,
    states: ContextStates | None = None,
) -> list[dict]:
    """One record row per example of ``task`` (without run/checkpoint keys), in example order; ``states``, when
    given (not for perplexity), collects the hidden states of each example's context.

    ``batch_tokens`` None picks the device's budget (``evaluation.budget``: for scoring passes 2048 tokens on CPU,
    for generation none on CPU; from the free memory on CUDA).
    """
    dtype = str(model.dtype).removeprefix("torch.")
    if task.lm_eval is not None:
        rows = evaluate_lm_eval_task(model, tokenizer, task, batch_size, batch_tokens)
    elif task.kind == "multiple_choice":
        encoded = (encodings or Encodings()).get(tokenizer, task.name, task.examples)
        batching = Batching(batch_size, batch_tokens or device_batch_tokens(model))
        scores = score_encoded(model, task.examples, encoded, batching, states=states)
        rows = [_choice_row(e, s) for e, s in zip(task.examples, scores, strict=True)]
    elif task.kind == "perplexity":
        losses = text_loss(model, tokenizer, [e.context for e in task.examples], batch_size)
        rows = [_perplexity_row(e, loss) for e, loss in zip(task.examples, losses, strict=True)]
    else:
        outputs = generate_greedy(model, tokenizer, task.examples, task.stop, task.max_new_tokens, batch_size,
                                  batch_tokens=batch_tokens or generation_batch_tokens(model), states=states)
        rows = generation_rows(task, task.examples, outputs)
    if states is not None and task.lm_eval is not None:  # lm-eval's requests: one prompt-only pass
        limit = max_positions(model)  # a longer prompt keeps its last tokens, as generation and lm-eval truncate
        contexts = [c[-limit:] if limit else c for c in context_tokens(tokenizer, task)]
        run_contexts(model, contexts, Batching(batch_size, batch_tokens or device_batch_tokens(model)), states)
    return [
        {"prompt_hash": prompt_hash(e.context), "task_version": task.version, **row, "dtype": dtype}
        for e, row in zip(task.examples, rows, strict=True)
    ]


def prompt_hash(context: str) -> str:
    """SHA-256 of the context in hex: spots prompts that changed between runs.

    For an lm-eval task the context is the document's first request's, so this is the ``prompt_hash`` that
    ``lm_eval --log_samples`` writes (its ``hash_string(requests[0].arguments[0])``). Stores written before
    kept the first 16 digits; ``store.same_prompt`` compares the two.

    >>> prompt_hash("Q: 2+2?\\nA:")
    '8dad61487a044e91083bb88da637daa31430311c6f6ee1c97d5c6cb5f6c1e3aa'
    """
    return hashlib.sha256(context.encode("utf-8")).hexdigest()


def _choice_row(example: Example, scores: ChoiceScores) -> dict:
    pred = predicted_option(scores.logliks)
    correct = pred == example.gold
    return {
        "example_id": example.id,
        "logliks": scores.logliks,
        "choice_tokens": scores.n_tokens,
        "pred": pred,
        "gold": example.gold,
        "output": example.choices[pred],
        "target": example.choices[example.gold] if example.gold is not None else None,
        "correct": correct,
        "score": float(correct),
    }


def _perplexity_row(example: Example, loss: TextLoss) -> dict:
    return {"example_id": example.id, "nll": loss.nll, "n_tokens": loss.tokens, "n_bytes": loss.bytes}
