"""The store's schemas: per-example records, and task-level aggregates for imports without samples.

Records: one typed row per (run, checkpoint, task, example).

Long format with no composite keys; a value that does not apply is null
(``pred``/``gold`` for generation tasks, ``logliks`` when only outputs are known). ``kind`` is the task's
kind: ``multiple_choice``, ``generation`` or ``perplexity`` (a ``.txt`` task or lm-eval's
``loglikelihood_rolling``; its rows hold ``nll``, ``n_tokens`` and ``n_bytes``).
Aggregates: one row per (run, checkpoint, task, metric, filter), e.g. from a
published lm-eval results JSON that has no per-example samples. The number of
examples a task was scored on, when the source says it, is the aggregate row of
metric ``SAMPLE_COUNT`` (``n_samples``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pyarrow as pa

METRIC_INFO = pa.struct([
    ("key", pa.string()),  # the key in ``metrics``: the bare metric for the task's first filter, else "metric,filter"
    ("metric", pa.string()),
    ("filter", pa.string()),
    ("aggregation", pa.string()),  # name in lm-eval's aggregation registry (null: the task's own function)
    ("higher_is_better", pa.bool_()),
    ("weight", pa.float64()),  # (loglik, weight) pairs: the weight (words, bytes); ``metrics`` holds the loglik
    ("item", pa.string()),  # the per-document item as JSON when it is neither a number nor a pair (f1, bleu)
])
GROUP_LEVEL = pa.struct([  # one aggregated metric of one group the task belongs to (lm-eval's aggregate_metric_list)
    ("name", pa.string()),
    ("metric", pa.string()),  # null: the group reports no score of its own
    ("weight_by_size", pa.bool_()),
    ("filters", pa.list_(pa.string())),  # null: every filter the tasks have
])

RECORD_SCHEMA = pa.schema(
    [
        ("run", pa.string()),
        ("checkpoint", pa.string()),
        ("step", pa.int64()),
        ("tokens_seen", pa.int64()),
        ("task", pa.string()),
        ("category", pa.string()),
        ("kind", pa.string()),  # "multiple_choice" | "generation" | "perplexity"
        ("example_id", pa.string()),
        ("logliks", pa.list_(pa.float64())),  # summed log-likelihood of each choice
        ("choice_tokens", pa.list_(pa.int64())),  # tokens in each choice's continuation
        ("pred", pa.int64()),  # chosen option (multiple choice)
        ("gold", pa.int64()),  # gold option (multiple choice)
        ("output", pa.string()),  # chosen option text, or the generated text
        ("target", pa.string()),  # gold option text, or the reference text
        ("correct", pa.bool_()),
        ("score", pa.float64()),  # reference-based score in [0, 1]: correctness or exact match
        ("prompt_hash", pa.string()),
        ("dtype", pa.string()),  # precision the model ran in
        ("nll", pa.float64()),  # perplexity tasks: summed negative log-likelihood of the document (nats)
        ("n_tokens", pa.int64()),  # perplexity tasks: tokens scored
        ("n_bytes", pa.int64()),  # perplexity tasks: UTF-8 bytes of the document (bits/byte = nll/n_bytes/ln 2)
        ("choice_chars", pa.list_(pa.int64())),  # characters in each choice (acc_norm divides by them, as lm-eval)
        ("metrics", pa.map_(pa.string(), pa.float64())),  # every per-example metric, e.g. {"acc": 1.0, "acc_norm": 0.0}
        ("task_version", pa.string()),  # the task's own version (lm-eval's task version, llm-jp-eval's template)
        ("metric_info", pa.list_(METRIC_INFO)),  # lm-eval tasks: how each metric is aggregated (tasks.aggregation)
        ("groups", pa.list_(GROUP_LEVEL)),  # lm-eval tasks: the task's groups, outermost first, with their scoring
    ]
)


def records_table(rows: Iterable[Mapping]) -> pa.Table:
    """Rows (dicts keyed by column; missing keys become null) as a table of RECORD_SCHEMA."""
    return _table(rows, RECORD_SCHEMA)


SAMPLE_COUNT = "n_samples"  # aggregate metric whose value is the number of examples a task was scored on

AGGREGATE_SCHEMA = pa.schema(
    [
        ("run", pa.string()),
        ("checkpoint", pa.string()),
        ("step", pa.int64()),
        ("tokens_seen", pa.int64()),
        ("task", pa.string()),
        ("metric", pa.string()),  # e.g. "acc", "acc_norm", "ppl", "exact_match"
        ("filter", pa.string()),  # lm-eval's filter name ("none" when unfiltered), null when the format has none
        ("value", pa.float64()),
        ("stderr", pa.float64()),
        ("num_fewshot", pa.int64()),
        ("source", pa.string()),  # the file the value was read from
    ]
)


def aggregates_table(rows: Iterable[Mapping]) -> pa.Table:
    """Rows of task-level results (one per task, metric, filter) as a table of AGGREGATE_SCHEMA."""
    return _table(rows, AGGREGATE_SCHEMA)


WHOLE_MODEL = "all"  # the drift rows' module name for the whole parameter vector
DRIFT_SCHEMA = pa.schema(
    [
        ("step_a", pa.int64()),  # the earlier checkpoint of a neighbouring pair
        ("step_b", pa.int64()),
        ("module", pa.string()),  # WHOLE_MODEL, or a module name such as "model.layers.0.mlp"
        ("l2", pa.float64()),
        ("relative_l2", pa.float64()),  # l2 / norm of the parameters at step_a
        ("cosine", pa.float64()),
    ]
)


def drift_table(rows: Iterable[Mapping]) -> pa.Table:
    """Parameter-drift rows (``diagnostics.DriftRow.to_dict()``) as a table of DRIFT_SCHEMA."""
    return _table(rows, DRIFT_SCHEMA)


def _table(rows: Iterable[Mapping], schema: pa.Schema) -> pa.Table:
    rows = list(rows)
    return pa.table({name: [row.get(name) for row in rows] for name in schema.names}, schema=schema)
