"""The report's "Where integration fails" and "Adaptive windows" sections: tables, sentences, CSV/JSON files."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX, WindowCriterion
from ckptlens.analysis.failures import EnsembleFlag, LagFlag
from ckptlens.analysis.stability import Sweep
from ckptlens.report.data import ReportData
from ckptlens.report.html import Page
from ckptlens.report.tables import STABILITY_HEADERS, field_names, stability_cells, write_csv, write_json

LAG_COLUMNS = ("run", "task", "method", "window", "steps", "largest_shortfall", "noise", "near_chance")
ENSEMBLE_COLUMNS = ("run", "task", "method", "window", "steps", "largest_deficit", "near_chance")
CHOICE_COLUMNS = ("run", "task", "method", "window", "fold_windows", "example_mtv", "lag_checkpoints", "objective")


def failures_section(page: Page, data: ReportData) -> None:
    """Both failure flags, grouped per (run, task, method, window); every flagged step in the CSV/JSON files."""
    sweep = data.sweep
    lags, ensembles = [f.to_dict() for f in sweep.lag_flags], [f.to_dict() for f in sweep.ensemble_flags]
    write_csv(lags, data.out / "lag_flags.csv", field_names(LagFlag))
    write_csv(ensembles, data.out / "ensemble_flags.csv", field_names(EnsembleFlag))
    write_json({"lag": lags, "ensemble_below_members": ensembles}, data.out / "failures.json")
    if not any(r.method != "raw" for r in data.rows):
        return
    section = page.section("Where integration fails",
                           "Where does an average or an ensemble trail a rising score, or score below every "
                           "checkpoint it combines?")
    section.text("Lag: an averaged or ensembled checkpoint scores below the newest checkpoint it integrates by more "
                 "than the noise (the standard deviation of the raw score over the final window), while the raw score "
                 "rose across the window's checkpoints by more than the noise. Ensemble below its members: the "
                 "ensemble scores below every checkpoint it combines.")
    flagged = sweep.lag_flags or sweep.ensemble_flags
    for sentence in failure_findings(sweep.lag_flags, sweep.ensemble_flags):
        (section.warning if flagged else section.text)(sentence)
    section.table(list(LAG_COLUMNS), _grouped(sweep.lag_flags, "largest_shortfall", lambda f: f.shortfall),
                  {"largest_shortfall": "largest shortfall", "near_chance": "near chance"})
    section.table(list(ENSEMBLE_COLUMNS), _grouped(sweep.ensemble_flags, "largest_deficit", _deficit),
                  {"largest_deficit": "largest deficit", "near_chance": "near chance"})


def learned_flag_count(sweep: Sweep) -> int:
    """Flagged (run, task, method, window) groups on tasks that learned: what the top of the page warns about."""
    return len(_groups([f for f in sweep.lag_flags + sweep.ensemble_flags if not f.near_chance]))


def failure_findings(lags: list[LagFlag], ensembles: list[EnsembleFlag]) -> list[str]:
    """One sentence per flagged (run, task, method, window) of a learned task, one counting those near chance."""
    if not lags and not ensembles:
        return ["No step flagged: no integrated checkpoint trails a rising curve by more than the noise, and no "
                "ensemble scores below all of its members."]
    near = len(_groups([f for f in lags if f.near_chance])) + len(_groups([f for f in ensembles if f.near_chance]))
    lags, ensembles = [f for f in lags if not f.near_chance], [f for f in ensembles if not f.near_chance]
    sentences = []
    for group in _groups(lags):
        worst = max(group, key=lambda f: f.shortfall)
        sentences.append(
            f"{_label(worst)} lags a rising curve at step(s) {_steps(group)}: up to {worst.shortfall:.3f} below the "
            f"newest raw checkpoint (step {worst.step}, noise {worst.noise:.3f}); prefer a smaller window here."
        )
    for group in _groups(ensembles):
        worst = max(group, key=_deficit)
        sentences.append(
            f"{_label(worst)} scores below every member at step(s) {_steps(group)}: {worst.ensemble_score:.3f} "
            f"against a worst member of {worst.worst_member_score:.3f} (step {worst.step}); its members err "
            "together on different examples."
        )
    if near:
        sentences.append(f"{near} more flagged (method, window) pair(s) on tasks near chance, where flips are "
                         "noise (tables below).")
    return sentences


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


def _grouped(flags: list, column: str, size: Callable) -> list[dict]:
    """One table row per (run, task, method, window): its flagged steps and the largest ``size``."""
    rows = []
    for group in _groups(flags):
        first = group[0]
        row = {"run": first.run, "task": first.task, "method": first.method, "window": first.window,
               "steps": _steps(group), column: max(size(f) for f in group),
               "near_chance": "yes" if first.near_chance else "no"}
        rows.append(row | ({"noise": first.noise} if isinstance(first, LagFlag) else {}))
    return rows


def _groups(flags: list) -> list[list]:
    """Flags per (run, task, method, window): learned tasks first, then tasks near chance."""
    groups: dict[tuple, list] = defaultdict(list)
    for f in flags:
        groups[(f.near_chance, f.run, f.task, f.method, f.window)].append(f)
    return [groups[key] for key in sorted(groups)]


def _label(flag: LagFlag | EnsembleFlag) -> str:
    near = " (near chance)" if flag.near_chance else ""
    return f"{flag.run} / {flag.task}{near}, {flag.method} of {flag.window}"


def _steps(group: list) -> str:
    return ", ".join(str(f.step) for f in group)


def _deficit(flag: EnsembleFlag) -> float:
    return flag.worst_member_score - flag.ensemble_score
