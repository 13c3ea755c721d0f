"""The top of the report: what was measured, the verdict, and the table of means over tasks it is computed from.

The verdict and the table read the same rows: ``summarise`` over the one set of tasks the page names
(``ReportData.taskset``: the tasks every compared run has above chance, or ``--tasks``). Each number the verdict
quotes points at its cell (``data-ref``), so what it says is what the table shows. Runs come in size order; each
run's tasks are listed once, the near-chance ones folded into a count.
"""

from __future__ import annotations

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX
from ckptlens.analysis.stability import StabilityRow
from ckptlens.analysis.taskset import TaskSet
from ckptlens.report.data import ReportData
from ckptlens.report.html import Html, Page, fold
from ckptlens.report.tables import STABILITY_HEADERS, TABLE_COLUMNS, size_label, window_label
from ckptlens.report.verdict import mean_row_ref, verdict

SUMMARY_KEYS = ("run", "method", "window", "n_tasks", *TABLE_COLUMNS)


def top(page: Page, data: ReportData, title: str) -> None:
    """The question, the runs, the verdict and the means over tasks."""
    page.heading(title, level=1)
    runs = data.runs()
    if not runs:
        page.box("The store has no rows to judge: evaluate a series into it first (`ckptlens eval SERIES --tasks ... "
                 "--store STORE`).", "verdict")
        return
    if len(runs) == 1:
        page.facts(_facts(data, runs[0]))
    else:
        page.text(f"{len(runs)} runs, smallest first; the final window is the last {data.last:.0%} of each run's "
                  "training.")
        page.table(["run", "size", "final window", "checkpoints", "compared", "tasks", "near chance"],
                   [_run_cells(data, run) for run in runs], left=("run", "final window", "compared", "tasks"))
    taskset = data.taskset
    lags = [f for f in data.sweep.lag_flags if not f.near_chance]
    page.cited(verdict(data.rows, data.best, data.selections, lags, taskset).parts)
    page.heading("Mean over tasks")
    summary = data.summary
    if not summary:
        page.text(_empty(taskset))
        return
    page.text("Each method's numbers averaged over " + _set_words(taskset) + "; adaptive methods choose their window "
              "per task. Lower MTV, IS and std mean a steadier evaluation.")
    shown = [{**r, "window": window_label(r["window"]), "_ref": mean_row_ref(r["run"], r["method"], r["window"])}
             for r in summary]
    keys = [k for k in (SUMMARY_KEYS if len(runs) > 1 else SUMMARY_KEYS[1:])
            if k not in TABLE_COLUMNS or any(r[k] is not None for r in shown)]
    page.table(keys, shown, {"n_tasks": "tasks", **STABILITY_HEADERS})
    page.parts.append(_named(taskset))


def _set_words(taskset: TaskSet) -> str:
    n = len(taskset.tasks)
    which = "the task" if n == 1 else f"the same {n} tasks"
    if taskset.chosen:
        return which + " chosen with --tasks (those above chance in every run)"
    return which + (" that every run has above chance" if len(taskset.runs) > 1 else " above chance")


def _named(taskset: TaskSet) -> str:
    """The task set by name, and what was left out and why, folded per reason."""
    kinds = {"near chance": [], "not in": [], "lacks a method": [], "not among --tasks": []}
    for task, why in sorted(taskset.left_out.items()):
        kind = next(k for k in kinds if why.startswith(k))
        plain = len(taskset.runs) == 1 or why in ("near chance in every run", "not among --tasks")
        kinds[kind].append(task if plain else f"{task} ({why})")
    words = {"near chance": "near chance", "not in": "not in every run", "lacks a method": "lacking a method",
             "not among --tasks": "not among --tasks"}
    folded = ", ".join(fold(f"{len(tasks)} {words[kind]}", "; ".join(tasks)) for kind, tasks in kinds.items() if tasks)
    left = f" Left out of both the table and the verdict: {folded}" if folded else ""
    return Html(f"<div class='taskset'><b>Tasks in these means:</b> {', '.join(taskset.tasks)}.{left}</div>")


def _empty(taskset: TaskSet) -> str:
    if taskset.left_out and all(why.startswith("near chance") for why in taskset.left_out.values()):
        why = "every task scores near chance in at least one run, so a mean over tasks would average guessing"
    else:
        why = "no task is above chance, with every method, in every compared run"
    return (f"No mean over tasks: {why}. Compare the runs on tasks you name (`ckptlens report --tasks TASK,TASK`), "
            "or evaluate later checkpoints or tasks every run can do; the per-task rows are in stability.csv.")


def _near_and_learned(data: ReportData, run: str) -> tuple[list[str], list[str]]:
    raw = [r for r in data.rows if r.run == run and r.method == "raw"]
    return [r.task for r in raw if not r.near_chance], [r.task for r in raw if r.near_chance]


def _facts(data: ReportData, run: str) -> list[tuple[str, str]]:
    rows = [r for r in data.rows if r.run == run]
    learned, near = _near_and_learned(data, run)
    tasks = f"{len(learned)} above chance: {', '.join(learned)}" if learned else "none above chance"
    if near:
        tasks = Html(f"{tasks}; " + fold(f"{len(near)} near chance", ", ".join(near)))
    series = data.store.info(run).series
    return [
        ("Run", run + (f" (series {series})" if series else "")),
        ("Final window", _window(data, rows)),
        ("Tasks", tasks),
        ("Compared", _compared(data, run, rows)),
    ]


def _run_cells(data: ReportData, run: str) -> dict:
    rows = [r for r in data.rows if r.run == run]
    learned, near = _near_and_learned(data, run)
    size = data.sizes.get(run)
    return {"run": run, "size": size_label(size), "final window": _window(data, rows, short=True),
            "checkpoints": _checkpoints(rows), "compared": _compared(data, run, rows),
            "tasks": fold(f"{len(learned)} above chance", ", ".join(learned)) if learned else "none above chance",
            "near chance": fold(str(len(near)), ", ".join(near)) if near else "0"}


def _checkpoints(rows: list[StabilityRow]) -> str:
    counts = sorted({r.n_checkpoints for r in rows if r.method == "raw"})
    return str(counts[0]) if len(counts) == 1 else f"{counts[0]}–{counts[-1]}"


def _window(data: ReportData, rows: list[StabilityRow], short: bool = False) -> str:
    raw = [r for r in rows if r.method == "raw"]
    first, last = min(r.first_step for r in raw), max(r.last_step for r in raw)
    if short:
        return f"steps {first}–{last}"
    return f"the last {data.last:.0%} of training: steps {first}–{last}, {_checkpoints(rows)} checkpoints"


def _compared(data: ReportData, run: str, rows: list[StabilityRow]) -> str:
    compared = ["raw checkpoints"]
    averages = sorted(n for (base, n) in data.averaged if base == run)
    if averages:
        compared.append("averages of " + ", ".join(map(str, averages)) + " checkpoints (evaluated)")
    rules = sorted({r.method.removeprefix("ensemble-") for r in rows if r.method.startswith("ensemble-")})
    if rules:
        windows = sorted({r.window for r in rows if r.method.startswith("ensemble-")})
        compared.append(f"ensembles ({', '.join(rules)}) of {', '.join(map(str, windows))}")
    if any(r.method.startswith(ADAPTIVE_PREFIX) for r in rows):
        compared.append("adaptive windows")
    return "; ".join(compared)
