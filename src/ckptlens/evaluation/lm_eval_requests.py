"""lm-eval's requests answered by ckptlens's engine, then judged by the task's own filters and ``process_results``.

- ``loglikelihood`` (and the ``multiple_choice`` requests it stands for): the
  requests of one context are one example of ``score_multiple_choice``, so an
  example's options share one context pass and the prefix every context shares
  (fixed demonstrations, or at least the description) runs once per call;
  each answer is ``(summed loglik, is_greedy)`` as lm-eval's models return it.
- ``generate_until``: greedy decoding until one of ``until`` (and end of text),
  at most ``max_gen_toks`` new tokens (lm-eval's default 256), the context
  left-truncated to lm-eval's ``max_length - max_gen_toks`` tokens; the prefix
  every context shares runs once (``evaluation.generation``).
- ``loglikelihood_rolling``: the document's summed log-likelihood over disjoint
  windows (``evaluation.perplexity``, lm-eval's rolling windows).

The answers then go through the task's filters and ``process_results`` exactly
as ``lm_eval.evaluator.evaluate`` feeds them, so every per-example metric
(``acc``, ``acc_norm``, ``acc_mutual_info``, ``exact_match`` after filters,
``f1``, perplexities, ...) is lm-eval's by construction. Each is stored in the
form lm-eval's aggregation takes (``tasks.aggregation``: the loglik of a
``(loglik, weight)`` pair with its weight, other items as JSON), with the
aggregation's name, ``higher_is_better`` and the task's groups, so a task's and
a group's score are lm-eval's. Metrics of a filter other than the task's first
are keyed ``metric,filter`` as lm-eval's results JSON names them.
"""

from __future__ import annotations

import dataclasses
import json
import math
import numbers
from collections import defaultdict
from collections.abc import Sequence

from transformers import PreTrainedModel, PreTrainedTokenizerBase

from ckptlens.errors import CkptlensError
from ckptlens.evaluation.budget import device_batch_tokens, generation_batch_tokens
from ckptlens.evaluation.generation import generate_greedy
from ckptlens.evaluation.perplexity import text_loss
from ckptlens.evaluation.scoring import score_multiple_choice
from ckptlens.tasks.aggregation import LOGLIK_AGGREGATIONS, MetricInfo, aggregation_name
from ckptlens.tasks.choice import predicted_option
from ckptlens.tasks.lm_eval_index import LmEvalTask
from ckptlens.tasks.task import Example, Task

DEFAULT_MAX_GEN_TOKS = 256  # lm-eval's HF model default when generation_kwargs give none


def evaluate_lm_eval_task(
    model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, task: Task, batch_size: int = 32,
    batch_tokens: int | None = None,
) -> list[dict]:
    """One record row per document of ``task`` (an lm-eval task), without run/checkpoint keys or prompt hash.

    ``batch_tokens`` caps the tokens of one log-likelihood pass and of one generation batch, as for ckptlens's own
    tasks (None: the device's budgets, ``evaluation.budget``).
    """
    source: LmEvalTask = task.lm_eval
    doc_ids = [int(e.id) for e in task.examples]
    instances = {doc_id: [fresh_instance(r) for r in source.instances[doc_id]] for doc_id in doc_ids}
    requests = [r for doc_id in doc_ids for r in instances[doc_id]]
    by_type: dict[str, list] = defaultdict(list)
    for request in requests:
        by_type[request.request_type].append(request)
    tokens = _loglikelihood(model, tokenizer, by_type["loglikelihood"], batch_size,
                            batch_tokens or device_batch_tokens(model))
    _generate(model, tokenizer, by_type["generate_until"], batch_size, batch_tokens or generation_batch_tokens(model))
    tokens.update(_rolling(model, tokenizer, by_type["loglikelihood_rolling"], batch_size))
    for ensemble in getattr(source.task, "_filters", ()):
        ensemble.apply(requests)
    return [_row(source, task.kind, doc_id, instances[doc_id], tokens) for doc_id in doc_ids]


def fresh_instance(instance):
    """A copy of a built lm-eval ``Instance`` with no answers: the built requests are shared by every checkpoint
    (and every thread) of a command, so each evaluation answers and filters its own copies."""
    return dataclasses.replace(instance, resps=[], filtered_resps={})


def _loglikelihood(model, tokenizer, requests: list, batch_size: int, batch_tokens: int | None) -> dict[int, int]:
    """Answer (loglik, is_greedy) for each request; {id(request): continuation tokens}."""
    tokens: dict[int, int] = {}
    for group in _by_context(requests):
        examples = [Example(str(i), ctx, tuple(r.arguments[1] for r in rs)) for i, (ctx, rs) in enumerate(group)]
        scores = score_multiple_choice(model, tokenizer, examples, batch_size, batch_tokens=batch_tokens)
        for (_, rs), score in zip(group, scores, strict=True):
            for j, request in enumerate(rs):
                request.resps.extend([(score.logliks[j], score.greedy[j])] * (request.repeats or 1))
                tokens[id(request)] = score.n_tokens[j]
    return tokens


def _by_context(requests: list) -> list[list[tuple[str, list]]]:
    """Requests grouped by context, in two calls: empty contexts (mutual information) would break prefix sharing."""
    contexts: dict[str, list] = defaultdict(list)
    for request in requests:
        contexts[request.arguments[0]].append(request)
    with_context = [(c, rs) for c, rs in contexts.items() if c]
    empty = [(c, rs) for c, rs in contexts.items() if not c]
    return [g for g in (with_context, empty) if g]


def _generate(model, tokenizer, requests: list, batch_size: int, batch_tokens: int | None) -> None:
    """Greedy generations, batched per distinct (until, max_gen_toks); contexts left-truncated as lm-eval's HF
    model does, to its max_length - max_gen_toks tokens."""
    eos = tokenizer.decode([tokenizer.eos_token_id]) if tokenizer.eos_token_id is not None else None
    groups: dict[tuple, list] = defaultdict(list)
    for request in requests:
        context, kwargs = request.arguments
        groups[_stopping(kwargs, eos, request.task_name)].append(request)
    for (until, max_gen_toks), group in groups.items():
        examples = [Example(str(i), r.arguments[0]) for i, r in enumerate(group)]
        outputs = generate_greedy(model, tokenizer, examples, until, max_gen_toks, batch_size,
                                  batch_tokens=batch_tokens, max_context=_max_length(model, tokenizer) - max_gen_toks)
        for request, output in zip(group, outputs, strict=True):
            request.resps.extend([output] * (request.repeats or 1))


def _max_length(model, tokenizer) -> int:
    """lm-eval's HF model's max_length: the config's positions, else the tokenizer's, else 2048."""
    from lm_eval.models.huggingface import HFLM
    from lm_eval.models.utils import resolve_max_length

    return resolve_max_length(model.config, tokenizer, default=HFLM._DEFAULT_MAX_LENGTH)


def _stopping(kwargs: dict, eos: str | None, task_name: str) -> tuple[tuple[str, ...], int]:
    """``until`` (plus end of text, as lm-eval adds it) and ``max_gen_toks``; sampling is refused."""
    kwargs = dict(kwargs or {})
    if kwargs.get("do_sample") or (kwargs.get("temperature") or 0) > 0:
        raise CkptlensError(f"lm-eval task {task_name!r} asks for sampled generation (generation_kwargs); ckptlens "
                            "decodes greedily: set do_sample: false and temperature: 0 in an --include-path YAML")
    until = kwargs.get("until") or []
    until = [until] if isinstance(until, str) else list(until)
    if eos and eos not in until:
        until.append(eos)
    return tuple(until), int(kwargs.get("max_gen_toks", DEFAULT_MAX_GEN_TOKS))


def _rolling(model, tokenizer, requests: list, batch_size: int) -> dict[int, int]:
    """Answer each document's rolling log-likelihood; {id(request): tokens scored}."""
    if not requests:
        return {}
    losses = text_loss(model, tokenizer, [r.arguments[0] for r in requests], batch_size)
    for request, loss in zip(requests, losses, strict=True):
        request.resps.extend([-loss.nll] * (request.repeats or 1))
    return {id(r): loss.tokens for r, loss in zip(requests, losses, strict=True)}


def _row(source: LmEvalTask, kind: str, doc_id: int, requests: list, tokens: dict[int, int]) -> dict:
    task, doc = source.task, source.docs[doc_id]
    metrics, infos = _metrics(source, doc, requests)
    score = next((metrics[m] for m in (*source.metric_names, *metrics) if m in metrics), None)
    first = next((i for i in infos if i.key == next(iter(metrics), None)), None)
    loss = first is not None and (first.weight is not None or first.aggregation in LOGLIK_AGGREGATIONS)
    score = None if kind == "perplexity" or loss or score is None or not 0.0 <= score <= 1.0 else score  # [0, 1]
    row = {"example_id": str(doc_id), "metrics": list(metrics.items()), "task_version": source.version,
           "score": score, "correct": None if score not in (0.0, 1.0) else score == 1.0,
           "metric_info": [i.to_row() for i in infos], "groups": list(source.groups)}
    first = next(iter(requests[0].filtered_resps))
    answers = [r.filtered_resps[first] for r in requests]
    if task.get_config("output_type") == "multiple_choice":
        row.update(_choice_fields(task, doc, requests, answers, tokens))
    elif kind == "perplexity":
        row.update(nll=-answers[0], n_tokens=tokens[id(requests[0])], n_bytes=_bytes(infos, requests[0]))
    elif requests[0].request_type == "loglikelihood":
        row.update(logliks=[a[0] for a in answers], choice_tokens=[tokens[id(r)] for r in requests],
                   output=None, target=requests[0].arguments[1])
    else:  # the generated text itself; the filters' answer is what exact_match judged
        row.update(output=str(requests[0].resps[0]), target=str(task.doc_to_target(doc)))
    return row


def _bytes(infos: list[MetricInfo], request) -> int:
    """The document's bytes as lm-eval weighs bits_per_byte (wikitext counts the page before detokenising)."""
    weight = next((i.weight for i in infos if i.metric in ("bits_per_byte", "byte_perplexity") and i.weight), None)
    return int(weight) if weight is not None else len(request.arguments[0].encode("utf-8"))


def _choice_fields(task, doc: dict, requests: list, answers: list, tokens: dict[int, int]) -> dict:
    """Per-choice log-likelihoods and character lengths (acc_norm's divisor), prediction, gold."""
    choices = list(task.doc_to_choice(doc))
    n = len(choices)  # acc_mutual_info appends the unconditional requests after the choices
    logliks = [float(a[0]) for a in answers[:n]]
    pred = predicted_option(logliks)
    gold = _gold_index(task.doc_to_target(doc), choices)
    return {
        "logliks": logliks, "choice_tokens": [tokens[id(r)] for r in requests[:n]],
        "choice_chars": [len(c) for c in choices], "pred": pred, "gold": gold, "output": choices[pred],
        "target": choices[gold] if gold is not None and 0 <= gold < n else None,
    }


def _gold_index(target, choices: Sequence[str]) -> int | None:
    """lm-eval's gold: an index, a choice's text, or a list of acceptable indices (the first is kept)."""
    if isinstance(target, list):
        target = target[0] if target else None
    if isinstance(target, str):
        return choices.index(target) if target in choices else (int(target) if target.isdigit() else None)
    return None if target is None else int(target)


def _metrics(source: LmEvalTask, doc: dict, requests: list) -> tuple[dict[str, float], list[MetricInfo]]:
    """process_results for each filter, in the form lm-eval aggregates (``tasks.aggregation``).

    A number is kept as it is; a ``(loglik, weight)`` pair as the loglik with its weight; any other item (f1's
    ``(gold, pred)``) as JSON, with that item's one-document aggregation as its number.
    """
    task = source.task
    aggregations, higher = task.aggregation(), task.higher_is_better()
    filters = list(requests[0].filtered_resps)
    out: dict[str, float] = {}
    infos: list[MetricInfo] = []
    for n, filter_key in enumerate(filters):
        results = task.process_results(doc, [r.filtered_resps[filter_key] for r in requests])
        for metric, value in results.items():
            name = _name(aggregations.get(metric))
            stored = _stored(value, aggregations.get(metric), name)
            if stored is None:
                continue
            key = metric if n == 0 else f"{metric},{filter_key}"
            out[key] = stored[0]
            infos.append(MetricInfo(key, metric, filter_key, name, higher.get(metric), stored[1], stored[2]))
    order = {m: i for i, m in enumerate(source.metric_names)}
    rank = {key: order.get(key.split(",")[0], len(order)) for key in out}
    infos.sort(key=lambda info: rank[info.key])
    return dict(sorted(out.items(), key=lambda kv: rank[kv[0]])), infos


def _name(function) -> str | None:
    return None if function is None else aggregation_name(function)


def _stored(value, aggregate, name: str | None) -> tuple[float, float | None, str | None] | None:
    """(number, weight, item JSON) of one document's value; None when it has no finite number."""
    if isinstance(value, bool | numbers.Number):
        return (float(value), None, None) if math.isfinite(float(value)) else None
    if name in LOGLIK_AGGREGATIONS and _is_pair(value):
        return float(value[0]), float(value[1]), None
    if aggregate is None:
        return None
    try:
        number = aggregate([value])
    except (ValueError, ZeroDivisionError, IndexError):
        return None  # an aggregation that needs more than one document (e.g. mcc) has no per-example value
    except Exception as err:
        raise CkptlensError(f"lm-eval aggregation {name!r} failed on one document "
                            f"({type(err).__name__}: {err}); report it with the task's YAML") from err
    if not isinstance(number, numbers.Number) or not math.isfinite(float(number)):
        return None
    return float(number), None, json.dumps(value, default=str)


def _is_pair(value) -> bool:
    """lm-eval's (loglik, weight) pairs of the rolling perplexities (f1's (gold, pred) is an item, not one)."""
    return (isinstance(value, tuple | list) and len(value) == 2
            and all(isinstance(v, numbers.Number) and not isinstance(v, bool) for v in value))
