"""The report's sections that fold away, each a function ``(page, data) -> None``.

Each opens its section with ``page.section(title, question)``, where the question is the one sentence saying what
the section answers, and fills it. A section with nothing to show either adds nothing (and is left out of the
page) or says in one sentence why, and what to run.
"""

from __future__ import annotations

from ckptlens.analysis.compare import neighbour_comparisons
from ckptlens.analysis.examples import CLASSES, example_view
from ckptlens.analysis.selection import ALL_TASKS, Selection
from ckptlens.analysis.stability import summarise
from ckptlens.checkpoints import last_fraction
from ckptlens.report.data import ReportData
from ckptlens.report.figures import example_heatmap, loss_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import TABLE_COLUMNS, summary_order, window_label
from ckptlens.report.verdict import BestCheckpoint, selection_ref

NEIGHBOUR_COLUMNS = ("run", "task", "transitions", "significant", "median_abs_change", "min_detectable_difference")
SELECTION_COLUMNS = ("run", "task", "rule", "window", "selected_step", "selected_score", "held_out_score",
                     "win_rate", "loss_rate", "mean_gain")
SHORT = {"mean_score": "mean score", "task_mtv": "task MTV", "example_mtv": "example MTV",
         "instability_score": "IS", "n_tasks": "tasks", "relative_std": "relative std",
         "flip_fraction": "flip fraction", "forgetting_events": "forgetting events", "near_chance": "near chance",
         "n_checkpoints": "checkpoints"}


def best_section(page: Page, data: ReportData) -> None:
    """The best raw checkpoint of each task against its neighbours, and how many neighbour changes are real."""
    if not data.best:
        return
    section = page.section("Is the best raw checkpoint better than its neighbours?",
                           "Did the checkpoint with the best raw score earn it, or get lucky on this test set?")
    section.text("For each task, the final window's best raw checkpoint against the checkpoint just before and just "
                 "after it: the score difference (best minus neighbour) and the exact McNemar p-value on the examples "
                 "whose correctness differs. It is reliably better only when both differences are positive with "
                 "p < 0.05.")
    section.table(["run", "task", "step", "score", "previous", "next", "reliably_better"],
                  [_best_cells(b) for b in data.best], {"reliably_better": "reliably better"})
    noise = neighbour_noise(data)
    section.text("Every neighbouring pair of the final window under the same test: how many score changes are real, "
                 "the median size of a change, and the smallest change the task's size can detect (80% power).")
    section.table(NEIGHBOUR_COLUMNS, noise, {"median_abs_change": "median |change|",
                                             "min_detectable_difference": "min detectable difference"})


def selection_section(page: Page, data: ReportData) -> None:
    """Which checkpoint each rule picks, checked on held-out halves of the examples."""
    if not any(run in data.base_runs for run, _ in data.matrices):
        return
    section = page.section("Which checkpoint does each rule pick?",
                           "Does picking by a smoothed score choose checkpoints that are better on examples it has "
                           "not seen?")
    if not data.selections:
        n = data.config.select_window
        section.text(f"No rule could pick: a task needs 2 checkpoints in the final window with {n - 1} before each "
                     "(the rules' window) and a score above chance; widen the window (`--last`) or evaluate more "
                     "checkpoints.")
        return
    section.text("Each rule picks the best checkpoint of the final window on a random half of the examples; the "
                 "picked raw checkpoint is scored on the other half, 200 times. win rate / loss rate: how often its "
                 "held-out score beats / trails the raw rule's pick; mean gain: the mean held-out difference.")
    section.table(SELECTION_COLUMNS, [_selection_cells(s) for s in data.selections],
                  {"selected_step": "step", "selected_score": "score", "held_out_score": "held-out score",
                   "win_rate": "win rate", "loss_rate": "loss rate", "mean_gain": "mean gain"})


def examples_section(page: Page, data: ReportData) -> None:
    """Per task, which examples flip: right/wrong maps and the share of each kind of example."""
    views = [example_view(m, data.last) for (run, _), m in sorted(data.matrices.items()) if run in data.base_runs]
    if not views:
        return
    section = page.section("Which examples flip?",
                           "Are the flips a few hard examples changing back and forth, or spread over the task?")
    section.text("Each row is an example, each column a checkpoint; learned-and-kept: right at every checkpoint of "
                 "the final window, never-learned: wrong at every one, unstable: both.")
    for view in views:
        alt = (f"{view.run} / {view.task}: right (dark) or wrong (light) for each example at each checkpoint, "
               "most-flipping examples on top")
        section.figure(example_heatmap(view, data.figures / f"{view.run}__{view.task}__examples.png"), alt)
        section.table(list(CLASSES), [{c: f"{v:.1%}" for c, v in view.class_fractions().items()}])


def category_section(page: Page, data: ReportData) -> None:
    """The mean over tasks per capability category."""
    by_category = summarise(data.rows, ("run", "category", "method", "window"))
    if len({(r["run"], r["category"]) for r in by_category}) < 2:
        return
    section = page.section("Per capability category",
                           "Is the evaluation more unstable for some kinds of task than for others?")
    section.text("The mean over tasks of each category (near-chance tasks left out). `ckptlens capabilities` draws "
                 "how each category develops over training and across model sizes.")
    rows = [{**r, "window": window_label(r["window"])} for r in sorted(by_category, key=summary_order)]
    section.table(["run", "category", "method", "window", "n_tasks", *TABLE_COLUMNS], rows, SHORT)


def group_section(page: Page, data: ReportData) -> None:
    """Each category of several tasks (an lm-eval group) scored as lm-eval scores a group: weighted by size."""
    rows = data.group_scores
    if not any(r["n_tasks"] > 1 for r in rows):
        return
    section = page.section("Group scores", "What does each group of tasks (lm-eval's mmlu, ...) score, counted as "
                           "lm-eval counts it?")
    section.text("A category's score is the mean over every example of its tasks: lm-eval's size-weighted group "
                 "score. At the last checkpoint and as a mean over the final window; group_scores.csv holds every "
                 "step, and `ckptlens scores --by category` prints it.")
    section.table(["run", "category", "n_tasks", "n_examples", "step", "score", "window_mean"],
                  [r for r in final_group_scores(rows, data.last) if r["n_tasks"] > 1],
                  {**SHORT, "n_examples": "examples", "score": "score at step", "window_mean": "final-window mean"})


def final_group_scores(rows: list[dict], last: float) -> list[dict]:
    """Per (run, category): the score at its last step and the mean over the steps in the final ``last``."""
    by_group: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        by_group.setdefault((row["run"], row["category"]), []).append(row)
    out = []
    for members in by_group.values():
        final = members[-1]
        window = [r["score"] for r in members if r["step"] >= (1 - last) * final["step"] and r["score"] is not None]
        out.append({**final, "window_mean": sum(window) / len(window) if window else None})
    return out


def more_numbers_section(page: Page, data: ReportData) -> None:
    """The stability table's other columns, per task and method."""
    if not data.rows:
        return
    section = page.section("More numbers per task",
                           "How noisy, how monotone and how forgetful is each task's score in the final window?")
    section.text("The columns the stability table above leaves out; stability.csv holds every column.")
    columns = ["run", "task", "method", "window", "relative_std", "monotonicity", "flip_fraction",
               "forgetting_events", "chance", "near_chance"]
    section.table(columns, [r.to_dict() for r in data.rows], SHORT)


def loss_section(page: Page, data: ReportData) -> None:
    """Training and validation loss of runs whose series recorded it."""
    curves = [(run, data.store.info(run).loss_curve) for run in sorted(data.base_runs)]
    curves = [(run, curve) for run, curve in curves if curve]
    if not curves:
        return
    section = page.section("Training and validation loss",
                           "Was training still improving while the downstream scores jumped?")
    for run, curve in curves:
        title = f"{run}: training and validation loss"
        section.figure(loss_figure(curve, data.figures / f"{run}__loss.png", title),
                       f"{title} (nats per token) by training step")


def files_section(page: Page, data: ReportData) -> None:
    """What each file beside the page holds."""
    section = page.section("Files beside this page", "Where are the full tables, for a notebook or a spreadsheet?")
    section.table(["file", "holds"], [{"file": name, "holds": text} for name, text in FILES], left=("file", "holds"))


FILES = (
    ("stability.csv / .json", "every stability row with every column and interval"),
    ("summary.csv, summary_by_category.csv", "means over tasks per method and window (per category)"),
    ("scores_wide.csv", "the score of every task (columns) at every step of every run (rows)"),
    ("group_scores.csv", "each category's score at every step, weighted by size as lm-eval scores a group"),
    ("trajectories.csv", "score by step of every method and window drawn in the figures"),
    ("best_checkpoints.csv", "each task's best raw checkpoint against its neighbours"),
    ("neighbour_changes.csv", "real (McNemar) changes between neighbouring checkpoints per task"),
    ("selection.csv", "each selection rule's pick and its held-out check"),
    ("adaptive.csv", "every candidate window's criteria per task, method and fold"),
    ("lag_flags.csv, ensemble_flags.csv, failures.json", "every step where integration fails"),
    ("linearity.csv, linearity_summary.csv", "averaged checkpoints against their members"),
    ("study_*.csv", "the instability study's views: window size, trajectories and scores per category, sizes"),
    ("figures/", "every figure as PNG"),
)


def neighbour_noise(data: ReportData) -> list[dict]:
    """Per task: how many neighbour-to-neighbour changes in the window a paired test calls real."""
    rows = []
    for (run, task), matrix in sorted(data.matrices.items()):
        if run not in data.base_runs:
            continue
        tests = neighbour_comparisons(matrix.select_steps(last_fraction(matrix.steps, data.last)))
        if not tests:
            continue
        changes = sorted(abs(t.difference) for t in tests)
        rows.append({
            "run": run, "task": task, "transitions": len(tests), "significant": sum(t.significant for t in tests),
            "median_abs_change": changes[len(changes) // 2],
            "min_detectable_difference": tests[0].min_detectable_difference,
        })
    return rows


def _best_cells(best: BestCheckpoint) -> dict:
    def side(step, difference, p):
        return "–" if step is None else f"step {step}: {difference:+.3f} (p = {p:.2g})"

    return {"run": best.run, "task": best.task, "step": best.step, "score": best.score,
            "previous": side(best.previous_step, best.previous_difference, best.previous_p),
            "next": side(best.next_step, best.next_difference, best.next_p), "reliably_better": best.reliably_better}


def _selection_cells(s: Selection) -> dict:
    return {**s.to_dict(), "win_rate": f"{s.win_rate:.0%}", "loss_rate": f"{s.loss_rate:.0%}",
            "mean_gain": f"{s.mean_gain:+.3f}", "_ref": selection_ref(s.run, s.rule) if s.task == ALL_TASKS else None}
