"""The linearity gap as a terminal table and as sentences saying where the first-order argument fails."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rich.table import Table

from ckptlens.analysis.linearity import GapSummary, linearity_gaps, summarise_gaps
from ckptlens.report.drift import drift_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import add_columns, write_csv
from ckptlens.store import Store

COLUMNS = ("run", "task", "window", "n_steps", "mean_score_gap", "mean_abs_score_gap", "mean_gold_loglik_gap",
           "score_noise", "mean_window_drift", "holds")  # fmt: skip
HEADERS = ("run", "task", "n", "steps", "gap", "|gap|", "gold loglik gap", "noise", "drift", "holds")


def linearity_rich_table(summaries: Sequence[GapSummary]) -> Table:
    """One line per (run, task, window): the averaged model against the mean of its members.

    gap: mean score gap; drift: summed relative L2 of the window's steps; holds: |gap| <= noise.
    """
    table = Table(title="Linearity gap: averaged checkpoint minus the mean of its members", title_justify="left")
    add_columns(table, HEADERS, left=("run", "task"))
    for s in summaries:
        table.add_row(*(_cell(getattr(s, name)) for name in COLUMNS))
    return table


def linearity_findings(summaries: Sequence[GapSummary]) -> list[str]:
    """Plain sentences: where the gap exceeds the score noise (the assumption fails), and which way."""
    failing = [s for s in summaries if not s.holds]
    if not summaries:
        return ["No averaged runs in the store: evaluate averaged checkpoints to measure the gap."]
    if not failing:
        return ["The first-order assumption holds everywhere: every averaged model scores like the mean of its "
                "members, within the score noise."]
    return [
        f"{s.run} / {s.task}, window {s.window}: the average scores {abs(s.mean_score_gap):.3f} "
        f"{'above' if s.mean_score_gap > 0 else 'below'} the mean of its members (noise {s.score_noise:.3f}): "
        + ("it lies in a better region than its members, so the first-order argument undersells averaging."
           if s.mean_score_gap > 0 else "its members sit across a barrier; prefer a smaller window or ensembling.")
        for s in failing
    ]


def add_linearity_section(page: Page, store: Store, base_runs: set[str], last: float, out: Path) -> list[GapSummary]:
    """The report's "why averaging works" part: drift figures, gap table, findings; CSVs beside the page."""
    rows = linearity_gaps(store, last)
    summaries = summarise_gaps(rows)
    write_csv([r.to_dict() for r in rows], out / "linearity.csv")
    write_csv([s.to_dict() for s in summaries], out / "linearity_summary.csv")
    page.heading("Does an averaged checkpoint score like its members?")
    page.text("First-order argument behind averaging: for nearby checkpoints, the score of their mean is the mean "
              "of their scores. gap = averaged score minus the members' mean score (gold log-likelihood gap in "
              "nats); noise = std of the raw score over the window; holds = |gap| <= noise; drift = summed "
              "relative L2 distance of the window's neighbour steps (recorded by `ckptlens drift --store`).")
    page.table(list(COLUMNS), [s.to_dict() for s in summaries])
    for finding in linearity_findings(summaries):
        page.text(finding)
    for run in sorted(base_runs):
        drift = store.read_drift(run)
        if drift is not None:
            title = f"{run}: parameter drift between neighbouring checkpoints"
            page.figure(drift_figure(drift.to_pylist(), out / "figures" / f"{run}__drift.png", title), title)
    return summaries


def _cell(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "NO"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
