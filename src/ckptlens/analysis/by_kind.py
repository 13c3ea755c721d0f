"""Instability by metric kind: 0/1-scored against continuous-scored tasks, and both views of one generative task.

The study finds machine translation (BLEU, COMET) steadier than tasks scored right or wrong, and asks why. Two
readings are set side by side:

- across tasks: the stability means over 0/1-scored tasks and over continuous-scored ones (``score_kind``);
- on the same predictions: each generative task with a continuous metric (char-F1, BLEU, ...) is scored again by
  exact match of the same generated texts, its **exact-match view**, and measured the same way. Its rows carry
  ``score_kind`` = ``EXACT_MATCH_VIEW``, so the continuous metric and its 0/1 view sit in one table over the same
  examples, checkpoints and outputs (the instability score, which compares outputs, is the same in both).

Means are per kind (``stability.summarise`` on the rows of one kind), so a generation task is not dropped for
lacking the mean-logprob ensemble that multiple-choice tasks of its run have.
"""

from __future__ import annotations

from dataclasses import replace

from ckptlens.analysis.ensemble import text_scores
from ckptlens.analysis.matrix import Matrices, TaskMatrix, read_matrices
from ckptlens.analysis.score_kind import BINARY, CONTINUOUS_KIND, score_kind
from ckptlens.analysis.stability import StabilityConfig, StabilityRow, stability_sweep, summarise
from ckptlens.store import Store

EXACT_MATCH_VIEW = "0/1 view of continuous"
KIND_ORDER = (BINARY, CONTINUOUS_KIND, EXACT_MATCH_VIEW)


def exact_match_view(matrix: TaskMatrix) -> TaskMatrix:
    """The same generated texts scored by exact match against the same targets (``tasks.metrics.exact_match``).

    >>> import numpy as np
    >>> m = TaskMatrix("r", "t", "generation", "MT", np.array([1, 2]), ("a", "b"), np.array(["0"]),
    ...                np.array([[0.8, 1.0]]), np.full((1, 2), -1), np.array([-1]), np.zeros((2, 1, 0)),
    ...                np.array([["Tokyo-to", "Tokyo"]], dtype=object), np.array(["Tokyo"], dtype=object), "char_f1")
    >>> exact_match_view(m).score.tolist()
    [[0.0, 1.0]]
    """
    return replace(matrix, score=text_scores(matrix.outputs, matrix.targets, "exact_match"), metric="exact_match")


def continuous_generation(matrices: Matrices) -> Matrices:
    """The generative (run, task) matrices whose score is a continuous metric, base and averaged runs alike."""
    return {key: m for key, m in matrices.items() if m.kind == "generation" and score_kind(m.metric) != BINARY}


def exact_match_view_rows(store: Store, config: StabilityConfig, loaded: Matrices | None = None) -> list[StabilityRow]:
    """Stability rows of the exact-match view of every continuous generative task (empty when there is none)."""
    loaded = read_matrices(store, config.categories, config.metric) if loaded is None else loaded
    views = {key: exact_match_view(m) for key, m in continuous_generation(loaded).items()}
    if not views:
        return []
    rows = stability_sweep(store, config, views).rows
    return [replace(r, score_kind=EXACT_MATCH_VIEW) for r in rows if (r.run, r.task) in views]


def kind_summary(rows: list[StabilityRow], view_rows: list[StabilityRow]) -> list[dict]:
    """Means over tasks per (run, score kind, method, window), each kind summarised on its own rows."""
    out = []
    for kind in KIND_ORDER:
        of_kind = [r for r in rows + view_rows if r.score_kind == kind]
        out += summarise(of_kind, ("run", "score_kind", "method", "window")) if of_kind else []
    return out


def left_out(rows: list[StabilityRow], view_rows: list[StabilityRow]) -> list[str]:
    """Per kind, the tasks its means leave out and why (``stability.summarise``'s rule, applied per kind).

    >>> from ckptlens.analysis.stability import StabilityRow
    >>> def row(task, method, window):
    ...     return StabilityRow("r", task, "c", method, window, 3, 1, 3, 10, 0.9, 0.0, 0.1, 0.1, 0.0, 0.0, 0.0, 0.1,
    ...                         0, 0.5, False, score_kind="0/1")
    >>> left_out([row("mc", "raw", 1), row("mc", "ensemble-mean-logprob", 2), row("gen", "raw", 1)], [])
    ['r, 0/1: gen left out of the means (lacks ensemble-mean-logprob (2), which other tasks have)']
    """
    out = []
    for kind in KIND_ORDER:
        of_kind = [r for r in rows + view_rows if r.score_kind == kind]
        for run in sorted({r.run for r in of_kind}):
            told = _left_out_of_run([r for r in of_kind if r.run == run])
            out += [f"{run}, {kind}: {'; '.join(told)}"] if told else []
    return out


def _left_out_of_run(rows: list[StabilityRow]) -> list[str]:
    methods: dict[str, set] = {}
    for r in rows:
        if not r.near_chance and r.is_score:
            methods.setdefault(r.task, set()).add((r.method, None if r.method.startswith("adaptive-") else r.window))
    every = set().union(*methods.values()) if methods else set()
    told = [f"{task} left out of the means (lacks {_methods(every - have)}, which other tasks have)"
            for task, have in sorted(methods.items()) if have != every]
    near = sorted({r.task for r in rows if r.near_chance} - set(methods))
    return told + ([f"{', '.join(near)} near chance, left out"] if near else [])


def _methods(pairs: set) -> str:
    """{(method, window)} as ``method (2, 4)``, one entry per method."""
    windows: dict[str, list] = {}
    for method, window in pairs:
        windows.setdefault(method, []).extend([window] if window else [])
    return ", ".join(f"{m} ({', '.join(map(str, sorted(w)))})" if w else m for m, w in sorted(windows.items()))


def side_by_side(rows: list[StabilityRow], view_rows: list[StabilityRow]) -> list[dict]:
    """Per continuous generative task and method: example MTV on the metric and on its exact-match view."""
    views = {(r.run, r.task, r.method, r.window): r for r in view_rows}
    out = []
    for r in rows:
        view = views.get((r.run, r.task, r.method, r.window))
        if view is None:
            continue
        out.append({"run": r.run, "task": r.task, "method": r.method, "window": r.window,
                    "n_examples": r.n_examples, "n_checkpoints": r.n_checkpoints,
                    "mean_score": r.mean_score, "exact_match_mean_score": view.mean_score,
                    "example_mtv": r.example_mtv, "example_mtv_lo": r.example_mtv_lo,
                    "example_mtv_hi": r.example_mtv_hi,
                    "exact_match_example_mtv": view.example_mtv, "exact_match_example_mtv_lo": view.example_mtv_lo,
                    "exact_match_example_mtv_hi": view.example_mtv_hi, "instability_score": r.instability_score})
    return out
