"""The report's bottom line: which checkpoint to trust and how unstable the evaluation is, in plain words.

``verdict`` is a pure function of the table rows the page shows (stability rows, the best raw checkpoint of
each task against its neighbours, the held-out selection), so every sentence can be traced to a number on the
page. ``best_checkpoints`` computes the second kind of row from the example matrices.

>>> from ckptlens.analysis.stability import StabilityRow
>>> def row(method, window, score, example_mtv, n=10):
...     return StabilityRow("demo", "facts", "knowledge", method, window, n, 390, 480, 200, score, 0.02,
...                         example_mtv, example_mtv, 0.02, 0.03, 0.1, 0.2, 10, 0.25, False)
>>> verdict([row("raw", 1, 0.87, 0.080), row("average", 4, 0.88, 0.036)]).split(". ")[1]
'Averaging 4 checkpoints cuts these flips by 55% (example MTV 0.080 → 0.036) at the same score (0.870 → 0.880)'
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from ckptlens.analysis.compare import ALPHA, compare_steps
from ckptlens.analysis.integration import AVERAGE, ENSEMBLE_PREFIX, RAW
from ckptlens.analysis.matrix import Matrices
from ckptlens.analysis.selection import ALL_TASKS, Selection
from ckptlens.analysis.stability import StabilityRow, summarise
from ckptlens.checkpoints import last_fraction

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


def verdict(rows: Sequence[StabilityRow], best: Sequence[BestCheckpoint] = (),
            selections: Sequence[Selection] = ()) -> str:
    """One paragraph for one run: how much the raw checkpoints flip, whether integrating them helps, and
    whether the best raw checkpoint is really better than its neighbours."""
    raw = [r for r in rows if r.method == RAW]
    if not raw:
        return ("Nothing was evaluated in the final window, so there is nothing to judge: evaluate the series with "
                "`ckptlens eval SERIES --tasks ... --store STORE`.")
    learned = [r for r in raw if not r.near_chance]
    if not learned:
        return (f"Every task ({len(raw)}) scores near chance over the final window, so its flips are guessing, not "
                "instability: evaluate later checkpoints, or tasks the model can already do.")
    fewest = min(r.n_checkpoints for r in learned)
    if fewest < 3:
        return (f"The final window holds only {fewest} checkpoints, so each MTV is a single difference and no "
                "checkpoint or window can be judged: widen the window (`--last 0.4`) or evaluate more checkpoints.")
    learned_tasks = {r.task for r in learned}
    sentences = [_instability(learned, len(raw) - len(learned)), *_integration(rows, learned),
                 _best(b for b in best if b.task in learned_tasks), _selection(selections)]
    return " ".join(s for s in sentences if s)


def _instability(learned: list[StabilityRow], near: int) -> str:
    left_out = f"; {_count(near, 'task')} near chance left out" if near else ""
    first, last = min(r.first_step for r in learned), max(r.last_step for r in learned)
    task_mtv = np.mean([r.task_mtv for r in learned])
    sentence = (f"Over the final window (steps {first}–{last}), the raw task score moves by {task_mtv:.3f} between "
                f"neighbouring checkpoints on average (mean over {_count(len(learned), 'task')}{left_out})")
    example = [r.example_mtv for r in learned if r.example_mtv is not None]
    if not example:
        return sentence + "; the store has no per-example records, so example-level flips are unknown."
    return (sentence + f", while {np.mean(example):.1%} of the examples change between right and wrong from one "
            f"checkpoint to the next (example MTV {np.mean(example):.3f}).")


def _integration(rows: Sequence[StabilityRow], learned: list[StabilityRow]) -> list[str]:
    """Whether the best average or ensemble flips less than raw at the same score (compared over the same tasks)."""
    summary = [s for s in summarise(list(rows)) if not s["method"].startswith("adaptive-")]
    raw = next((s for s in summary if s["method"] == RAW), None)
    candidates = [s for s in summary if s["method"] != RAW and s["example_mtv"] is not None]
    if raw is None or raw["example_mtv"] is None or not candidates:
        return ["No averaged or ensembled checkpoints are in the store to compare with: average the series "
                "(`ckptlens average SERIES --window 4 --out AVG`, then `ckptlens eval AVG`); ensembles need "
                "per-example records with per-choice log-likelihoods."]
    noise, flips = raw["std"], raw["example_mtv"]
    if flips == 0:
        return ["No example changes between neighbouring raw checkpoints in the final window, so averaging or "
                "ensembling has no flips to cut here."]
    same_or_better = [s for s in candidates if s["mean_score"] >= raw["mean_score"] - noise]
    scope = "" if raw["n_tasks"] == len(learned) else f" (over the {raw['n_tasks']} tasks every method covers)"
    sentences = []
    best = min(same_or_better, key=lambda s: s["example_mtv"], default=None)
    if best is not None and best["example_mtv"] <= HELPS * flips:
        cut = 1 - best["example_mtv"] / flips
        sentences.append(f"{_method(best).capitalize()} cuts these flips by {cut:.0%} (example MTV {flips:.3f} → "
                         f"{best['example_mtv']:.3f}) {_score_change(raw, best, noise)}{scope}.")
        sentences.append(f"Trust {_trusted(best)} over any single raw checkpoint.")
    else:
        fewer = min(candidates, key=lambda s: s["example_mtv"])
        tail = (f"; {_method(fewer)} flips less ({fewer['example_mtv']:.3f}) but {_score_change(raw, fewer, noise)}"
                if fewer["example_mtv"] <= HELPS * flips else "")
        sentences.append(f"Neither averaging nor ensembling cuts example-level flips by {1 - HELPS:.0%} or more at the "
                         f"same score here{scope}, so integrating checkpoints does not help this evaluation{tail}.")
    if not any(s["method"] == AVERAGE for s in candidates):
        sentences.append("No averaged checkpoints were evaluated; `ckptlens average SERIES --window 4 --out AVG` "
                         "and `ckptlens eval AVG` add them.")
    return sentences


def _best(best) -> str:
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


def _selection(selections: Sequence[Selection]) -> str:
    overall = {s.rule: s for s in selections if s.task == ALL_TASKS}
    others = [s for rule, s in overall.items() if rule != RAW]
    if not others:
        return ""
    best = max(others, key=lambda s: s.mean_gain)
    if best.mean_gain <= 0 or best.win_rate <= best.loss_rate:
        return "On held-out halves of the examples, no smoothed rule picks a better checkpoint than the raw score."
    how = SELECTION_WORDS.get(best.rule, best.rule).format(n=best.window)
    return (f"On held-out halves of the examples, picking by {how} beats picking by raw score in "
            f"{best.win_rate:.0%} of splits and loses in {best.loss_rate:.0%} ({best.mean_gain:+.3f} on average).")


def _method(summary: dict) -> str:
    method, n = summary["method"], summary["window"]
    if method == AVERAGE:
        return f"averaging {n} checkpoints"
    rule = method.removeprefix(ENSEMBLE_PREFIX)
    return f"an ensemble of {n} checkpoints ({RULE_WORDS.get(rule, rule)})"


def _trusted(summary: dict) -> str:
    method, n = summary["method"], summary["window"]
    if method == AVERAGE:
        return f"the average of the last {n} checkpoints"
    rule = method.removeprefix(ENSEMBLE_PREFIX)
    return f"the {RULE_WORDS.get(rule, rule)} ensemble of the last {n} checkpoints"


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _score_change(raw: dict, other: dict, noise: float) -> str:
    before, after = raw["mean_score"], other["mean_score"]
    change = f"({before:.3f} → {after:.3f})"
    if abs(after - before) <= noise:
        return f"at the same score {change}"
    return f"and raises the score {change}" if after > before else f"lowers the score {change}"
