"""The report's "Where integration fails" and "Adaptive windows" sections: tables, sentences, CSV/JSON files."""

from __future__ import annotations

from collections import defaultdict

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX, WindowCriterion
from ckptlens.analysis.failures import EnsembleFlag, LagFlag
from ckptlens.report.data import ReportData
from ckptlens.report.html import Page
from ckptlens.report.tables import STABILITY_HEADERS, field_names, stability_cells, write_csv, write_json
from ckptlens.report.verdict import failure_ref

FAILURE_COLUMNS = ("task", "method", "window", "what_failed", "by", "steps")
CHOICE_COLUMNS = ("run", "task", "method", "window", "fold_windows", "example_mtv", "lag_checkpoints", "objective")


def failures_section(page: Page, data: ReportData) -> None:
    """One table: per (task, method, window) of a learned task, what failed and by how much; every flagged step of
    every task, near chance included, in the CSV/JSON files."""
    sweep = data.sweep
    lags, ensembles = [f.to_dict() for f in sweep.lag_flags], [f.to_dict() for f in sweep.ensemble_flags]
    write_csv(lags, data.out / "lag_flags.csv", field_names(LagFlag))
    write_csv(ensembles, data.out / "ensemble_flags.csv", field_names(EnsembleFlag))
    write_json({"lag": lags, "ensemble_below_members": ensembles}, data.out / "failures.json")
    if not any(r.method != "raw" for r in data.rows):
        return
    rows = failure_rows(sweep.lag_flags, sweep.ensemble_flags, len(data.runs()) > 1)
    section = page.section(f"Where integration fails ({len(rows)})",
                           "Where does an average or an ensemble trail a rising score, or score below every "
                           "checkpoint it combines?")
    section.text("Lags: an averaged or ensembled checkpoint scores below the newest checkpoint it integrates by more "
                 "than the noise (the standard deviation of the raw score over the final window) while the raw score "
                 "rose across its checkpoints by more than the noise; by: the largest shortfall. Below every member: "
                 "the ensemble scores below all the checkpoints it combines; by: the largest deficit to the worst one.")
    if not rows:
        section.text("Nothing failed on a task above chance: no integrated checkpoint trails a rising curve by more "
                     "than the noise, and no ensemble scores below all of its members.")
    section.table(list(FAILURE_COLUMNS), rows, {"what_failed": "what failed", "by": "by how much"},
                  left=("task", "method", "what_failed", "steps"))
    near = len(_groups([f for f in sweep.lag_flags + sweep.ensemble_flags if f.near_chance]))
    if near:
        section.text(f"{near} more (task, method, window) on tasks near chance, where flips are guessing, are left "
                     "out here; lag_flags.csv and ensemble_flags.csv hold them.")


def failure_rows(lags: list[LagFlag], ensembles: list[EnsembleFlag], with_run: bool) -> list[dict]:
    """One row per (run, task, method, window, kind of failure) of a task above chance, largest failure first."""
    rows = []
    for what, flags, size in (("lag", lags, lambda f: f.shortfall), ("below", ensembles, _deficit)):
        for group in _groups([f for f in flags if not f.near_chance]):
            first = group[0]
            rows.append({
                "task": f"{first.run} / {first.task}" if with_run else first.task, "method": first.method,
                "window": first.window, "what_failed": "lags a rising score" if what == "lag" else "below every member",
                "by": max(size(f) for f in group), "steps": _steps(group),
                "_ref": failure_ref(first.run, first.task, first.method, first.window, what),
            })
    return sorted(rows, key=lambda r: -r["by"])


def adaptive_section(page: Page, data: ReportData) -> None:
    """The window each task gets per method, the windows chosen per fold, and every candidate's criteria (CSV)."""
    config = data.config.stability.adaptive
    if config is None:
        return
    write_csv([c.to_dict() for c in data.sweep.choices], data.out / "adaptive.csv", field_names(WindowCriterion))
    section = page.section("Adaptive windows", "Which window should each task use, given how fast it still rises?")
    if not data.sweep.choices:
        section.text("No task has a window to choose: evaluate averaged checkpoints or keep per-choice "
                     "log-likelihoods so that windows above 1 exist.")
        return
    rule = (f"minimise example MTV + {config.lag_weight:g} x lag in checkpoints" if config.rule == "tradeoff"
            else f"the smallest window whose example MTV is at most {config.mtv_target:g}")
    section.text(f"Rule: {rule}. The adaptive rows score each of {config.folds} random folds of examples with the "
                 "window chosen on the other folds (fold windows), so no example chooses its own window; window is "
                 "the choice on all examples, the one to use from now on. Lag: the shift of the curve behind the raw "
                 "one that fits it best on a rising stretch (0 where the score does not rise).")
    section.table(list(CHOICE_COLUMNS), adaptive_choices(data.sweep.choices),
                  {"fold_windows": "fold windows", "example_mtv": "example MTV",
                   "lag_checkpoints": "lag (checkpoints)"})
    adaptive = [r for r in data.rows if r.method.startswith(ADAPTIVE_PREFIX)]
    section.text("The adaptive rows of the stability table, with 95% intervals where computed:")
    section.table(["task", "method", "window", "checkpoints", "mean_score", "task_mtv", "example_mtv",
                   "instability_score", "std"],
                  [stability_cells(r, f"{r.run} / {r.task}" if len(data.runs()) > 1 else r.task) for r in adaptive],
                  STABILITY_HEADERS)


def adaptive_choices(criteria: list[WindowCriterion]) -> list[dict]:
    """Per (run, task, method): the window chosen on all examples, its criteria, and each fold's window."""
    folds: dict[tuple, list[int]] = defaultdict(list)
    for c in criteria:
        if c.chosen and c.fold is not None:
            folds[(c.run, c.task, c.method)].append(c.window)
    return [
        {"run": c.run, "task": c.task, "method": c.method, "window": c.window,
         "fold_windows": ", ".join(map(str, folds[(c.run, c.task, c.method)])), "example_mtv": c.example_mtv,
         "lag_checkpoints": c.lag_checkpoints, "objective": c.objective}
        for c in criteria if c.chosen and c.fold is None
    ]


def _groups(flags: list) -> list[list]:
    """Flags per (run, task, method, window): learned tasks first, then tasks near chance."""
    groups: dict[tuple, list] = defaultdict(list)
    for f in flags:
        groups[(f.near_chance, f.run, f.task, f.method, f.window)].append(f)
    return [groups[key] for key in sorted(groups)]


def _steps(group: list) -> str:
    return ", ".join(str(f.step) for f in group)


def _deficit(flag: EnsembleFlag) -> float:
    return flag.worst_member_score - flag.ensemble_score
