"""``ckptlens capabilities``: the capability analysis written as CSV tables, PNG figures and an HTML page.

The page follows the main report's rules: an ``<h1>`` question, what was measured, a verdict whose every number
is a cell of the table right under it (``Cite`` -> ``data-ref``), the definitions, the curves per size, and every
long table or secondary figure in a section that folds away. The CSV files keep every column and row.

>>> report = write_capability_report(Store("store"), "capabilities")  # doctest: +ELLIPSIS
...
>>> (Path("capabilities") / "capabilities.html").is_file()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ckptlens.analysis.capabilities import (
    RANKING_COLUMNS,
    SIMILARITY_COLUMNS,
    Capabilities,
    CapabilityConfig,
    capability_analysis,
)
from ckptlens.analysis.curves import loss_curves
from ckptlens.report.capability_figures import (
    category_curves_figure,
    loss_score_figure,
    phase_timeline_figure,
    similarity_figure,
)
from ckptlens.report.html import Page
from ckptlens.report.tables import size_label, write_csv
from ckptlens.report.verdict import Cite, Part
from ckptlens.store import Store

TITLE = "How do capabilities develop over training, and across model sizes?"
WATCH = 3  # tasks named as worth watching, and as not to decide on alone
DYNAMICS_SHOWN = ("run", "task", "initial", "final", "gain", "monotonicity", "task_mtv_last", "near_chance")
DEFINITIONS = (
    ("category curve", "The mean score of a capability category's tasks at each checkpoint of a run."),
    ("signal", "The spread of the task's score across sizes (standard deviation of the runs' mean scores) over a "
     "stretch of training: early, middle or late third."),
    ("noise", "The task's checkpoint-to-checkpoint noise over the same stretch: the mean over runs of the mean "
     "absolute change between neighbouring checkpoints (task MTV)."),
    ("SNR", "signal / noise. Above 1: the sizes differ by more than one checkpoint's noise, so the task can rank "
     "them; below 1: a single checkpoint's score cannot."),
    ("monotonicity", "(#ups − #downs) / (#ups + #downs) of the score between neighbouring checkpoints: 1 always "
     "rising, −1 always falling."),
    ("phase", "Rapid rise, slow rise, plateau or decline, from the slope of the smoothed category curve between "
     "neighbouring checkpoints."),
    ("Kendall tau", "Agreement between the ranking of the sizes at a step and their ranking at the last shared step "
     "(1: same order)."),
    ("near chance", "A task whose final-window score is not above chance by more than the margin (see the main "
     "report); never recommended for watching."),
)


@dataclass(frozen=True)
class CapabilityReport:
    html: Path
    analysis: Capabilities


def write_capability_report(
    store: Store, out: str | Path, config: CapabilityConfig = CapabilityConfig()
) -> CapabilityReport:
    """Run the capability analysis and write ``out/capabilities.html`` with its figures and tables."""
    out = Path(out)
    cap = capability_analysis(store, config)
    columns = {"similarity": SIMILARITY_COLUMNS, "ranking": RANKING_COLUMNS}
    for name in ("dynamics", "category_curves", "similarity", "ranking", "snr"):
        write_csv(getattr(cap, name), out / f"{name}.csv", columns.get(name))
    figures = out / "figures"
    page = Page("ckptlens: " + TITLE)
    page.heading(TITLE, level=1)
    page.facts([
        ("Runs", ", ".join(_sized(cap, r) for r in cap.runs) + " (smallest first)"),
        ("Scores", f"per-example records where evaluated, else the imported {config.metric or 'acc'}"),
        ("Curves", f"aligned by {config.align}; {len({c.task for c in cap.curves})} tasks in "
                   f"{len({c.category for c in cap.curves})} categories"),
    ])
    _verdict_and_table(page, cap)
    page.heading("What the numbers mean")
    page.definitions(DEFINITIONS)
    page.heading("Capability curves per size")
    page.figure(category_curves_figure(cap, config.align, figures / "category_curves.png"),
                f"mean score of each capability category over training ({config.align}), one line per run")
    _sections(page, cap, store, figures)
    return CapabilityReport(page.write(out / "capabilities.html"), cap)


def _verdict_and_table(page: Page, cap: Capabilities) -> None:
    """Which scores to watch and which not to decide on alone; the numbers quoted are the table's cells."""
    if len(cap.runs) < 2:
        rows = sorted((d for d in cap.dynamics if not d["near_chance"]), key=lambda d: -abs(d["monotonicity"]))[:WATCH]
        parts: list[Part] = ["One run, so sizes cannot be compared. "]
        if rows:
            parts += ["Its steadiest-moving tasks over training: "]
            for i, d in enumerate(rows):
                parts += [", " if i else "", f"{d['task']} (monotonicity ",
                          Cite(f"{d['monotonicity']:.3f}", f"dyn:{d['run']}:{d['task']}:monotonicity"), ")"]
            parts.append(".")
        page.cited(parts)
        page.heading("Which scores to watch")
        page.table(list(DYNAMICS_SHOWN), [{**d, "_ref": f"dyn:{d['run']}:{d['task']}"} for d in rows],
                   _short(DYNAMICS_SHOWN))
        return
    learned = {d["task"] for d in cap.dynamics if not d["near_chance"]}
    late = sorted((r for r in cap.snr if r["stretch"] == "late" and r["snr"] is not None and np.isfinite(r["snr"])),
                  key=lambda r: -r["snr"])
    watch = [r for r in late if r["task"] in learned and r["snr"] >= 1][:WATCH]
    distrust = [r for r in reversed(late) if r["task"] in learned and r["snr"] < 1][:WATCH]
    parts = []
    if watch:
        parts += ["Late in training, watch "] + _listed(watch) + [": the sizes differ there by more than the "
                                                                 "checkpoint-to-checkpoint noise."]
    if distrust:
        parts += [" " if parts else ""] + ["Do not decide on "] + _listed(distrust) + [
            " alone: their noise between neighbouring checkpoints is larger than the spread across sizes."]
    if not parts:
        parts = ["No task above chance has a late-training signal-to-noise ratio to rank: evaluate more checkpoints "
                 "of each run (each stretch needs at least 2)."]
    page.cited(parts)
    page.heading("Which scores to watch")
    page.text("Late third of training, tasks above chance in some run: the highest and the lowest signal-to-noise "
              "ratios (snr.csv has every task and stretch).")
    page.table(["task", "category", "signal", "noise", "snr", "monotonicity"],
               [{**r, "_ref": f"snr:{r['task']}:late"} for r in watch + distrust])


def _listed(rows: list[dict]) -> list[Part]:
    parts: list[Part] = []
    for i, r in enumerate(rows):
        parts += [", " if i else "", f"{r['task']} (SNR ", Cite(f"{r['snr']:.3f}", f"snr:{r['task']}:late:snr"), ")"]
    return parts


def _sections(page: Page, cap: Capabilities, store: Store, figures: Path) -> None:
    """Secondary figures and the long tables, each folded with the question it answers."""
    if len(cap.runs) > 1:
        section = page.section("Do sizes develop alike?", "Do the task curves of different sizes rise alike?")
        section.figure(similarity_figure(cap, figures / "similarity.png"),
                       "mean correlation of normalised task curves between every pair of runs")
    losses = loss_curves(store)
    if any(r in losses for r in cap.runs):
        section = page.section("Downstream score against loss", "Does the downstream score follow the loss?")
        section.figure(loss_score_figure(cap, losses, figures / "loss_vs_score.png"),
                       "mean score over tasks against the run's loss, one colour per run")
    section = page.section("Phases along training", "When does each category rise, slow down or stall?")
    section.figure(phase_timeline_figure(cap, cap.runs[-1], figures / "phases.png"),
                   f"phase of each capability category of {cap.runs[-1]} along training")
    section = page.section("Signal to noise per task and stretch of training",
                           "Which tasks separate the sizes, early, in the middle and late in training?")
    section.table(["task", "category", "stretch", "n_runs", "signal", "noise", "snr", "monotonicity"],
                  sorted(cap.snr, key=lambda r: (r["stretch"] != "late", -_number(r["snr"]))), _short(()))
    if cap.ranking:
        section = page.section("Does the early ranking of sizes predict the final one?",
                               "From which step on do the sizes rank as they finish (Kendall tau by step)?")
        section.table(["task", "step", "kendall_tau"], cap.ranking, {"kendall_tau": "Kendall tau"})
    section = page.section("Dynamics per run and task", "How far did each task move, and how steadily?")
    section.text("The main columns; dynamics.csv adds milestones, phases and the correlation with the loss.")
    section.table(list(DYNAMICS_SHOWN), cap.dynamics, _short(DYNAMICS_SHOWN))


def _short(columns) -> dict[str, str]:
    return {"task_mtv_last": "final-window task MTV", "near_chance": "near chance", "n_runs": "runs"}


def _sized(cap: Capabilities, run: str) -> str:
    n = cap.sizes.get(run)
    return f"{run} ({size_label(n)})" if n else run


def _number(value) -> float:
    return value if isinstance(value, int | float) and value == value else float("-inf")
