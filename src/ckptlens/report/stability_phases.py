"""Report section: instability through training, raw against each method per fifth of training."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from ckptlens.analysis.stability_phases import PhaseReduction, reductions
from ckptlens.report.data import PHASES, ReportData
from ckptlens.report.figures import FAMILY_COLOURS, save_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import field_names, write_csv

COLUMNS = ("phase", "steps", "method", "window", "n_tasks", "example_mtv", "example_mtv_reduction",
           "instability_score", "instability_score_reduction")
HEADERS = {"example_mtv": "example MTV", "example_mtv_reduction": "ex. MTV cut %", "instability_score": "IS",
           "instability_score_reduction": "IS cut %", "n_tasks": "tasks"}


def shown_reductions(found: list[PhaseReduction]) -> list[PhaseReduction]:
    """Raw and, per method, its largest window present in every phase that has the method (one line each)."""
    phases: dict[tuple[str, str], set] = {}
    for r in found:
        phases.setdefault((r.run, r.method), set()).add(r.phase)
    windows: dict[tuple[str, str], int] = {}
    for r in found:
        if r.window is not None and all(any(x.run == r.run and x.method == r.method and x.window == r.window
                                                and x.phase == p for x in found) for p in phases[(r.run, r.method)]):
            windows[(r.run, r.method)] = max(windows.get((r.run, r.method), 0), r.window)
    return [r for r in found if r.method == "raw" or windows.get((r.run, r.method)) == r.window]


def phase_figure(found: list[PhaseReduction], path: Path, title: str) -> Path:
    """Example MTV and IS per phase: raw (black) against each method, labelled with its mean reduction."""
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for ax, name, label in ((axes[0], "example_mtv", "example MTV"), (axes[1], "instability_score", "IS")):
        for method in sorted({r.method for r in found}, key=lambda m: (m != "raw", m)):
            line = sorted((r for r in found if r.method == method), key=lambda r: r.phase)
            cuts = [getattr(r, f"{name}_reduction") for r in line if getattr(r, f"{name}_reduction") is not None]
            tag = "raw" if method == "raw" else f"{method} of {line[0].window}"
            if cuts and method != "raw":
                tag += f" (cut {min(cuts):.0f}% to {max(cuts):.0f}%)"
            colour = "black" if method == "raw" else plt.get_cmap(FAMILY_COLOURS.get(method, "Greys"))(0.75)
            ax.plot([r.phase for r in line], [getattr(r, name) for r in line], "o-", color=colour, lw=1.4, ms=4,
                    label=tag)
        ax.set_xticks(range(1, PHASES + 1), [f"{(p - 1) * 100 // PHASES}-{p * 100 // PHASES}%"
                                              for p in range(1, PHASES + 1)], fontsize=8)
        ax.set_xlabel("phase of training (fraction of the last step)", fontsize=9)
        ax.set_ylabel(f"{label}, mean over tasks", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, frameon=False)
    fig.suptitle(title, fontsize=11)
    return save_figure(fig, path)


def phases_section(page: Page, data: ReportData) -> None:
    """Are averaging and ensembling beneficial throughout training, or only late?"""
    found = reductions(data.phase_rows)
    write_csv([r.to_dict() for r in data.phase_rows], data.out / "stability_phases.csv")
    write_csv([r.to_dict() for r in found], data.out / "phase_reductions.csv", field_names(PhaseReduction))
    found = [r for r in found if r.example_mtv is not None]  # task-level imports have no example-level numbers
    if not found:
        return
    section = page.section("Instability through training",
                           "Are averaging and ensembling beneficial throughout training, or only in later stages?")
    section.text(f"Training cut into {PHASES} equal spans of the last step; in each, every method is compared over "
                 "the steps all its windows cover, and tasks near chance in a phase are left out of its means. "
                 "cut % = 100 × (raw − method) / raw. Tables: stability_phases.csv, phase_reductions.csv.")
    for run in sorted({r.run for r in found}):
        shown = shown_reductions([r for r in found if r.run == run])
        title = f"{run}: example MTV and instability score per phase of training, raw against each method"
        section.figure(phase_figure(shown, data.figures / f"{run}__phases.png", title), title)
        section.table(COLUMNS, [{**r.to_dict(), "steps": f"{r.first_step}-{r.last_step}"} for r in shown], HEADERS)
