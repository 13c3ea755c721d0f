"""The report's bottom line: which checkpoint to trust and how unstable the evaluation is, in plain words.

``verdict`` is a pure function of the means over tasks that the page shows right under it (``summarise`` over
one named set of tasks, ``analysis.taskset``), the failure flags, the best raw checkpoint of each task against
its neighbours and the held-out selection. Every number it quotes is a ``Cite``: the text of one table cell and
that cell's reference (``mean_ref``), which the page renders as a link to the cell, so a test can check that the
verdict and the table agree. ``best_checkpoints`` computes the best-checkpoint rows from the example matrices.

>>> from ckptlens.analysis.stability import StabilityRow
>>> def row(method, window, score, example_mtv, n=10):
...     return StabilityRow("demo", "facts", "knowledge", method, window, n, 390, 480, 200, score, 0.02,
...                         example_mtv, example_mtv, 0.02, 0.03, 0.1, 0.2, 10, 0.25, False)
>>> text = verdict([row("raw", 1, 0.87, 0.080), row("average", 4, 0.88, 0.036)])
>>> text.split(". ")[1]
'Averaging 4 checkpoints cuts these flips by 55% (example MTV 0.080 → 0.036) at the same score (0.870 → 0.880)'
>>> text.parts[1]
Cite(text='0.020', ref='mean:demo:raw:1:task_mtv')
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX
from ckptlens.analysis.compare import ALPHA, compare_steps
from ckptlens.analysis.failures import LagFlag
from ckptlens.analysis.integration import AVERAGE, ENSEMBLE_PREFIX, RAW
from ckptlens.analysis.matrix import Matrices
from ckptlens.analysis.selection import ALL_TASKS, Selection
from ckptlens.analysis.stability import StabilityRow, summarise
from ckptlens.analysis.taskset import TaskSet, shared_tasks
from ckptlens.checkpoints import last_fraction
from ckptlens.report.tables import window_label

HELPS = 0.8  # an integrated method helps when it keeps at most this fraction of the raw flips, at the same score
RULE_WORDS = {"vote": "majority vote", "mean-logprob": "mean log-likelihood", "mean-prob": "mean probability",
              "confidence": "margin-weighted vote"}
SELECTION_WORDS = {"trailing-mean": "the trailing mean of {n} checkpoints' scores",
                   "ensemble-vote": "the score of the {n}-checkpoint majority-vote ensemble",
                   "average": "the score of the average of {n} checkpoints"}


@dataclass(frozen=True)
class BestCheckpoint:
    """The best raw checkpoint of a task's final window against the checkpoints just before and after it."""

    run: str
    task: str
    step: int
    score: float
    previous_step: int | None
    previous_difference: float | None  # best minus previous
    previous_p: float | None  # exact McNemar p-value
    next_step: int | None
    next_difference: float | None
    next_p: float | None
    reliably_better: bool  # better than every neighbour at the 5% level

    def to_dict(self) -> dict:
        return asdict(self)


def best_checkpoints(matrices: Matrices, runs: set[str], last: float) -> list[BestCheckpoint]:
    """Per (run, task) of ``runs``: the final window's best raw checkpoint (latest on ties) and its neighbours."""
    found = []
    for (run, task), matrix in sorted(matrices.items()):
        if run not in runs or len(matrix.steps) < 2:
            continue
        window = np.isin(matrix.steps, last_fraction(matrix.steps, last))
        curve = matrix.curve  # lm-eval's aggregation; lower is better for a perplexity
        scores = np.where(window, curve if matrix.higher_is_better else -curve, -np.inf)
        best = len(scores) - 1 - int(np.argmax(scores[::-1]))
        step = int(matrix.steps[best])
        sides = {}
        for name, index in (("previous", best - 1), ("next", best + 1)):
            if 0 <= index < len(matrix.steps) and matrix.is_score:  # McNemar needs correct/wrong examples
                test = compare_steps(matrix, int(matrix.steps[index]), step)
                sides[name] = (test.step_a, test.difference, test.p_value)
        prev, nxt = sides.get("previous", (None,) * 3), sides.get("next", (None,) * 3)
        reliable = bool(sides) and all(d > 0 and p < ALPHA for _, d, p in sides.values())
        found.append(BestCheckpoint(run, task, step, float(curve[best]), *prev, *nxt, reliable))
    return found


@dataclass(frozen=True)
class Cite:
    """A number the verdict quotes: exactly the text of the table cell whose ``data-ref`` is ``ref``."""

    text: str
    ref: str


Part = str | Cite


class Verdict(str):
    """The verdict as plain text; ``parts`` holds it as text and ``Cite``s, in order, for the page to link."""

    parts: tuple[Part, ...]

    def __new__(cls, parts: Sequence[Part]) -> Verdict:
        text = super().__new__(cls, "".join(p if isinstance(p, str) else p.text for p in parts))
        text.parts = tuple(parts)
        return text


def mean_row_ref(run: str, method: str, window: int | None) -> str:
    """The reference of one row of the means-over-tasks table (its cells add ``:COLUMN``)."""
    return f"mean:{run}:{method}:{window_label(window)}"


def mean_ref(run: str, method: str, window: int | None, column: str) -> str:
    """The reference of one cell of the means-over-tasks table."""
    return f"{mean_row_ref(run, method, window)}:{column}"


def failure_ref(run: str, task: str, method: str, window: int, what: str) -> str:
    """The reference of one row of the failures table (``what``: lag or below); its cells add ``:COLUMN``."""
    return f"fail:{run}:{task}:{method}:{window}:{what}"


def selection_ref(run: str, rule: str) -> str:
    """The reference of a rule's all-tasks row of the selection table (its cells add ``:COLUMN``)."""
    return f"select:{run}:{rule}"


def verdict(rows: Sequence[StabilityRow], best: Sequence[BestCheckpoint] = (), selections: Sequence[Selection] = (),
            lags: Sequence[LagFlag] = (), taskset: TaskSet | None = None) -> Verdict:
    """One paragraph: how much the raw checkpoints flip, whether integrating them helps (and where it lags), and
    whether the best raw checkpoint is really better than its neighbours.

    ``taskset``: the tasks the means are over (default ``shared_tasks(rows)``); its runs, in its order.
    """
    raw = [r for r in rows if r.method == RAW]
    if not raw:
        return Verdict(["Nothing was evaluated in the final window, so there is nothing to judge: evaluate the series "
                        "with `ckptlens eval SERIES --tasks ... --store STORE`."])
    taskset = taskset or shared_tasks(rows)
    if not taskset.tasks:
        return Verdict([_no_shared_task(raw, taskset)])
    kept = taskset.rows(rows)
    fewest = min(r.n_checkpoints for r in kept if r.method == RAW)
    if fewest < 3:
        return Verdict([f"The final window holds only {fewest} checkpoints, so each MTV is a single difference and no "
                        "checkpoint or window can be judged: widen the window (`--last 0.4`) or evaluate more "
                        "checkpoints."])
    summary = summarise(kept)
    sentences = [_instability(summary, kept, taskset)]
    integration = {run: _integration([s for s in summary if s["run"] == run], kept, lags, taskset)
                   for run in taskset.runs}
    if len(taskset.runs) > 1 and all(parts == integration[taskset.runs[0]] for parts in integration.values()):
        sentences += integration[taskset.runs[0]]
    else:
        for run, parts in integration.items():
            sentences += [[f"{run}: ", *parts[0]], *parts[1:]] if len(taskset.runs) > 1 else parts
    sentences += [[_best(b for b in best if b.task in taskset.tasks and b.run in taskset.runs)]]
    if len(taskset.runs) == 1:
        sentences.append(_selection([s for s in selections if s.run == taskset.runs[0]]))
    return Verdict(_joined(sentences))


def _joined(sentences: list[list[Part]]) -> list[Part]:
    parts: list[Part] = []
    for sentence in sentences:
        if sentence and sentence != [""]:
            parts += ([" "] if parts else []) + sentence
    return parts


def _no_shared_task(raw: list[StabilityRow], taskset: TaskSet) -> str:
    if all(r.near_chance for r in raw):
        return (f"Every task ({len({r.task for r in raw})}) scores near chance over the final window, so its flips are "
                "guessing, not instability: evaluate later checkpoints, or tasks the model can already do.")
    return ("No task is above chance in every compared run with every method, so no mean over tasks compares them: "
            "name the tasks to compare with `ckptlens report --tasks TASK,TASK`, or evaluate the runs on a common "
            "task they can do.")


def _scope(taskset: TaskSet) -> str:
    """Which tasks the means are over; the line under the table names them and what was left out, once."""
    n = len(taskset.tasks)
    which = "the task" if n == 1 else f"the {n} tasks"
    if len(taskset.runs) > 1:
        which += " every run has above chance" if not taskset.chosen else " chosen with --tasks"
    return f"(mean over {which}, listed under the table)"


def _instability(summary: list[dict], kept: list[StabilityRow], taskset: TaskSet) -> list[Part]:
    raws = [next(s for s in summary if s["run"] == run and s["method"] == RAW) for run in taskset.runs]
    first, last = min(r.first_step for r in kept), max(r.last_step for r in kept)
    if len(raws) == 1:
        raw = raws[0]
        parts = [f"Over the final window (steps {first}–{last}), the raw task score moves by ",
                 _cite(raw, "task_mtv"), f" between neighbouring checkpoints on average {_scope(taskset)}"]
        if raw["example_mtv"] is None:
            return parts + ["; the store has no per-example records, so example-level flips are unknown."]
        return parts + [f", while {raw['example_mtv']:.1%} of the examples change between right and wrong from one "
                        "checkpoint to the next (example MTV ", _cite(raw, "example_mtv"), ")."]
    low, high = min(raws, key=lambda s: s["task_mtv"]), max(raws, key=lambda s: s["task_mtv"])
    parts = [f"Over the final window (steps {first}–{last}), the raw task score moves between neighbouring "
             "checkpoints by ", _cite(low, "task_mtv"), f" ({low['run']}) to ", _cite(high, "task_mtv"),
             f" ({high['run']}) on average {_scope(taskset)}; the mean score is ", _cite(raws[0], "mean_score"),
             f" for {raws[0]['run']} and ", _cite(raws[-1], "mean_score"), f" for {raws[-1]['run']}."]
    if all(s["example_mtv"] is None for s in raws):
        parts.append(" The store has no per-example records, so example-level flips are unknown.")
    elif any(s["example_mtv"] is None for s in raws):
        parts.append(" Some runs have no per-example records, so example-level flips are not compared.")
    return parts


def _cite(summary: dict, column: str, formatted: str = "{:.3f}") -> Cite:
    return Cite(formatted.format(summary[column]), mean_ref(summary["run"], summary["method"], summary["window"],
                                                             column))


def _integration(summary: list[dict], kept: list[StabilityRow], lags: Sequence[LagFlag],
                 taskset: TaskSet) -> list[list[Part]]:
    """Whether the best average or ensemble flips less than raw at the same score, over the table's tasks."""
    fixed = [s for s in summary if not s["method"].startswith(ADAPTIVE_PREFIX)]
    raw = next((s for s in fixed if s["method"] == RAW), None)
    candidates = [s for s in fixed if s["method"] != RAW and s["example_mtv"] is not None]
    if raw is None or raw["example_mtv"] is None or not candidates:
        return [["No averaged or ensembled checkpoints are in the store to compare with: average the series "
                 "(`ckptlens average SERIES --window 4 --out AVG`, then `ckptlens eval AVG`); ensembles need "
                 "per-example records with per-choice log-likelihoods."]]
    noise, flips = raw["std"], raw["example_mtv"]
    if flips == 0:
        return [["No example changes between neighbouring raw checkpoints in the final window, so averaging or "
                 "ensembling has no flips to cut here."]]
    same_or_better = [s for s in candidates if s["mean_score"] >= raw["mean_score"] - noise]
    best = min(same_or_better, key=lambda s: s["example_mtv"], default=None)
    sentences: list[list[Part]] = []
    if best is not None and best["example_mtv"] <= HELPS * flips:
        cut = 1 - best["example_mtv"] / flips
        sentences.append([f"{_method(best).capitalize()} cuts these flips by {cut:.0%} (example MTV ",
                          _cite(raw, "example_mtv"), " → ", _cite(best, "example_mtv"), ") ",
                          *_score_change(raw, best, noise), "."])
        sentences += _trust(best, raw, summary, kept, lags, taskset)
    else:
        fewer = min(candidates, key=lambda s: s["example_mtv"])
        tail = ([f"; {_method(fewer)} flips less (", _cite(fewer, "example_mtv"), ") but ",
                 *_score_change(raw, fewer, noise)] if fewer["example_mtv"] <= HELPS * flips else [])
        sentences.append([f"Neither averaging nor ensembling cuts example-level flips by {1 - HELPS:.0%} or more at "
                          "the same score here, so integrating checkpoints does not help this evaluation", *tail, "."])
    if not any(s["method"] == AVERAGE for s in candidates):
        sentences.append(["No averaged checkpoints were evaluated; `ckptlens average SERIES --window 4 --out AVG` "
                          "and `ckptlens eval AVG` add them."])
    return sentences


def _trust(best: dict, raw: dict, summary: list[dict], kept: list[StabilityRow], lags: Sequence[LagFlag],
           taskset: TaskSet) -> list[list[Part]]:
    """Trust the best method; where it lags a rising score, the window the adaptive rule picks instead."""
    run, method, n = best["run"], best["method"], best["window"]
    worst: dict[str, LagFlag] = {}
    for flag in lags:
        if (flag.run, flag.method, flag.window) == (run, method, n) and flag.task in taskset.tasks:
            if flag.task not in worst or flag.shortfall > worst[flag.task].shortfall:
                worst[flag.task] = flag
    if not worst:
        return [[f"Trust {_trusted(best)} over any single raw checkpoint."]]
    largest = max(worst.values(), key=lambda f: f.shortfall)
    sentence: list[Part] = [
        f"But {_trusted(best)} lags a rising score on {_names(sorted(worst))} (up to ",
        Cite(f"{largest.shortfall:.3f}", failure_ref(run, largest.task, method, n, "lag") + ":by"),
        " below the newest checkpoint, in Where integration fails)"]
    adaptive_method = ADAPTIVE_PREFIX + method
    chosen = {r.task: r.window for r in kept if r.run == run and r.method == adaptive_method}
    adaptive = next((s for s in summary if s["method"] == adaptive_method), None)
    if adaptive is None or not chosen:
        return [sentence + ["; use a smaller window there (`ckptlens report --adaptive tradeoff` picks one per "
                            "task)."]]
    there = ", ".join(f"{task}: {chosen[task]}" for task in sorted(worst) if task in chosen)
    sentence += [f"; the adaptive rule picks a window per task there ({there})."]
    steadier = adaptive["example_mtv"] is not None and adaptive["example_mtv"] <= HELPS * raw["example_mtv"]
    if steadier and adaptive["mean_score"] >= raw["mean_score"] - raw["std"]:
        return [sentence, [f"Trust {_trusted(best, adaptive=True)}: example MTV ", _cite(adaptive, "example_mtv"),
                           " at score ", _cite(adaptive, "mean_score"), f" (row {adaptive_method}, window per task)."]]
    return [sentence, ["With those windows the flips stay near the raw level (example MTV ",
                       _cite(adaptive, "example_mtv"), f", row {adaptive_method}): no window both keeps up with the "
                       "rising score and cuts the flips, so judge these tasks by the raw curve until it stops rising."]]


def _names(tasks: list[str], most: int = 4) -> str:
    shown = ", ".join(tasks[:most])
    return shown + (f" and {len(tasks) - most} more" if len(tasks) > most else "")


def _best(best) -> str:
    """Whether the best raw checkpoint of each task beats its neighbours (counts only: the table has the rest)."""
    best = list(best)
    if not best:
        return ""
    shaky = sum(not b.reliably_better for b in best)
    test = "(exact McNemar test, 5% level)"
    if shaky == 0:
        return f"The best raw checkpoint is reliably better than its neighbours on every task {test}."
    where = ("this task" if len(best) == 1 else f"all {len(best)} tasks" if shaky == len(best)
             else f"{shaky} of {len(best)} tasks")
    return f"On {where}, the best raw checkpoint is not reliably better than its neighbours {test}: its lead is noise."


def _selection(selections: Sequence[Selection]) -> list[Part]:
    overall = {s.rule: s for s in selections if s.task == ALL_TASKS}
    others = [s for rule, s in overall.items() if rule != RAW]
    if not others:
        return []
    best = max(others, key=lambda s: s.mean_gain)
    if best.mean_gain <= 0 or best.win_rate <= best.loss_rate:
        return ["On held-out halves of the examples, no smoothed rule picks a better checkpoint than the raw score."]
    how = SELECTION_WORDS.get(best.rule, best.rule).format(n=best.window)
    return [f"On held-out halves of the examples, picking by {how} beats picking by raw score in "
            f"{best.win_rate:.0%} of splits and loses in {best.loss_rate:.0%} (",
            Cite(f"{best.mean_gain:+.3f}", selection_ref(best.run, best.rule) + ":mean_gain"), " on average)."]


def _method(summary: dict) -> str:
    method, n = summary["method"], summary["window"]
    if method == AVERAGE:
        return f"averaging {n} checkpoints"
    rule = method.removeprefix(ENSEMBLE_PREFIX)
    return f"an ensemble of {n} checkpoints ({RULE_WORDS.get(rule, rule)})"


def _trusted(summary: dict, adaptive: bool = False) -> str:
    method, n = summary["method"], summary["window"]
    how_many = "the window the adaptive rule picks per task" if adaptive else f"the last {n} checkpoints"
    if method == AVERAGE:
        return f"the average of {how_many}"
    rule = method.removeprefix(ENSEMBLE_PREFIX)
    return f"the {RULE_WORDS.get(rule, rule)} ensemble of {how_many}"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _score_change(raw: dict, other: dict, noise: float) -> list[Part]:
    before, after = raw["mean_score"], other["mean_score"]
    change = ["(", _cite(raw, "mean_score"), " → ", _cite(other, "mean_score"), ")"]
    if abs(after - before) <= noise:
        return ["at the same score ", *change]
    return ["and raises the score ", *change] if after > before else ["lowers the score ", *change]
