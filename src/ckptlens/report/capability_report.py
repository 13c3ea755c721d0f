"""``ckptlens capabilities``: the capability analysis written as CSV tables, PNG figures and an HTML page.

>>> report = write_capability_report(Store("store"), "capabilities")  # doctest: +ELLIPSIS
...
>>> (Path("capabilities") / "capabilities.html").is_file()
True
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

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
from ckptlens.report.tables import write_csv
from ckptlens.store import Store


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
    page = Page("ckptlens capability analysis")
    page.text(f"Runs by size: {', '.join(_sized(cap, r) for r in cap.runs)}. Scores: per-example records where "
              f"evaluated, else the imported {config.metric!r}. Curves aligned by {config.align}.")
    page.heading("Which scores to watch")
    for line in cap.recommendations:
        page.text(line)
    page.heading("Capability curves per size")
    page.figure(category_curves_figure(cap, config.align, figures / "category_curves.png"), "category curves")
    if len(cap.runs) > 1:
        page.heading("Do sizes develop alike?")
        page.figure(similarity_figure(cap, figures / "similarity.png"), "similarity")
    losses = loss_curves(store)
    if any(r in losses for r in cap.runs):
        page.heading("Downstream score against loss")
        page.figure(loss_score_figure(cap, losses, figures / "loss_vs_score.png"), "loss vs score")
    page.heading("Phases along training")
    page.figure(phase_timeline_figure(cap, cap.runs[-1], figures / "phases.png"), f"phases of {cap.runs[-1]}")
    page.heading("Signal to noise per task and stretch of training")
    page.table(["task", "category", "stretch", "n_runs", "signal", "noise", "snr", "monotonicity"],
               sorted(cap.snr, key=lambda r: (r["stretch"] != "late", -_number(r["snr"]))))
    if cap.ranking:
        page.heading("Does the early ranking of sizes predict the final one? (Kendall tau by step)")
        page.table(["task", "step", "kendall_tau"], cap.ranking)
    page.heading("Dynamics per run and task")
    columns = list(cap.dynamics[0]) if cap.dynamics else []
    page.table(columns, cap.dynamics)
    return CapabilityReport(page.write(out / "capabilities.html"), cap)


def _sized(cap: Capabilities, run: str) -> str:
    n = cap.sizes.get(run)
    return f"{run} ({n / 1e6:,.0f}M parameters)" if n else run


def _number(value) -> float:
    return value if isinstance(value, int | float) and value == value else float("-inf")
