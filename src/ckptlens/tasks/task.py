"""A task is data plus a scoring rule: a frozen dataclass of examples.

Two kinds exist. ``multiple_choice``: each example has a context (holding any
few-shot demonstrations already) and choices scored as continuations by summed
log-likelihood; correct when the best-scoring choice is ``gold``.
``generation``: greedy decoding from the context until a stop sequence; the
output, read by the task's ``answer_rule``, is compared with ``target`` by
each of the task's ``metrics`` (:mod:`ckptlens.tasks.metrics`; the first is
the record's ``score``).
``perplexity``: each example's context is a document whose loss is measured
(summed negative log-likelihood, tokens and bytes: bits per byte).

A task from lm-eval's own index (``tasks.lm_eval_index``) also carries
``lm_eval``: lm-eval's built task and requests, which score and judge it; its
examples are lm-eval's documents (id = ``doc_id``, context = the prompt).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ckptlens.tasks.chance import chance_level

TaskKind = Literal["multiple_choice", "generation", "perplexity"]


@dataclass(frozen=True)
class Example:
    id: str
    context: str
    choices: tuple[str, ...] = ()
    gold: int | None = None
    target: str | None = None
    source: str | None = None  # generation: the text a translation metric (COMET) reads as the source


@dataclass(frozen=True)
class Task:
    name: str
    kind: TaskKind
    examples: tuple[Example, ...]
    category: str = "other"
    description: str = ""
    stop: tuple[str, ...] = ("\n",)
    max_new_tokens: int = 16
    demonstrations: tuple[dict, ...] = field(default=())
    lm_eval: object | None = field(default=None, compare=False, repr=False)  # an LmEvalTask, for lm-eval's tasks
    metrics: tuple[str, ...] = ("exact_match",)  # generation: per-example metrics, the first is the score
    answer_rule: str = "strip"  # generation: how the output becomes the prediction (tasks.metrics.ANSWER_RULES)
    version: str | None = None  # the task's own version, stored as the records' task_version
    comet_model: str | None = None  # metrics with comet_wmt22: the COMET checkpoint scoring it (tasks.comet)

    @property
    def chance(self) -> float:
        """Expected score of a model that guesses uniformly (0 for generation): ``chance.chance_level``."""
        if self.kind != "multiple_choice":
            return 0.0
        return chance_level(len(e.choices) for e in self.examples)
