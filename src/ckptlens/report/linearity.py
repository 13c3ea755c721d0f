"""The linearity gap as a terminal table, a report section and sentences saying where an average is better or
worse than its members."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from rich.table import Table

from ckptlens.analysis.linearity import GapSummary, LinearityRow, summarise_gaps
from ckptlens.report.data import ReportData
from ckptlens.report.drift import drift_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import add_columns, field_names, write_csv

COLUMNS = ("run", "task", "window", "n_steps", "mean_score_gap", "mean_abs_score_gap", "mean_gold_loglik_gap",
           "score_noise", "mean_window_drift", "holds")  # fmt: skip
HEADERS = ("run", "task", "n", "steps", "gap", "|gap|", "gold loglik gap", "noise", "drift", "average vs members")
PAGE_HEADERS = dict(zip(COLUMNS, HEADERS))


def linearity_rich_table(summaries: Sequence[GapSummary]) -> Table:
    """One line per (run, task, window): the averaged model against the mean of its members.

    gap: mean score gap; drift: summed relative L2 of the window's steps; average vs members: better or worse
    when the gap exceeds the noise, else "like them".
    """
    table = Table(title="Linearity gap: averaged checkpoint minus the mean of its members", title_justify="left")
    add_columns(table, HEADERS, left=("run", "task"))
    for s in summaries:
        table.add_row(*(_cell(getattr(s, name)) for name in COLUMNS[:-1]), against_members(s))
    return table


def against_members(summary: GapSummary) -> str:
    """How the average compares with its members: "better", "worse" (beyond the noise) or "like them"."""
    if summary.holds:
        return "like them"
    return "better" if summary.mean_score_gap > 0 else "worse"


def linearity_findings(summaries: Sequence[GapSummary]) -> list[str]:
    """Plain sentences, one per (run, task, direction): where the average is better or worse than its members by
    more than the noise."""
    if not summaries:
        return ["No averaged runs in the store: evaluate averaged checkpoints to measure the gap."]
    groups: dict[tuple, list[GapSummary]] = defaultdict(list)
    for s in summaries:
        if not s.holds:
            groups[(s.run, s.task, s.mean_score_gap < 0)].append(s)
    if not groups:
        return ["Every average scores like the mean of its members, within the score noise: averaging smooths the "
                "curve as the first-order argument says."]
    return [_finding(group) for _, group in sorted(groups.items())]


def _finding(group: list[GapSummary]) -> str:
    first, gaps = group[0], sorted(abs(s.mean_score_gap) for s in group)
    above = first.mean_score_gap > 0
    if len(group) == 1:
        head = f"{first.run} / {first.task}, window {first.window}: the average scores {gaps[0]:.3f}"
    else:
        windows = ", ".join(str(s.window) for s in group)
        head = f"{first.run} / {first.task}, windows {windows}: the averages score {gaps[0]:.3f} to {gaps[-1]:.3f}"
    members = "its members" if len(group) == 1 else "their members"
    return (f"{head} {'above' if above else 'below'} the mean of {members} (noise {first.score_noise:.3f}): "
            + (f"better than {members}; the average sits in a better region than any of them." if above else
               f"worse than {members}, which sit across a barrier; prefer a smaller window or ensembling."))


def linearity_section(page: Page, data: ReportData) -> None:
    """The "why averaging works" part: gap table, findings, drift figures; CSVs beside the page."""
    rows = data.linearity
    summaries = summarise_gaps(rows)
    write_csv([r.to_dict() for r in rows], data.out / "linearity.csv", field_names(LinearityRow))
    write_csv([s.to_dict() for s in summaries], data.out / "linearity_summary.csv", field_names(GapSummary))
    drifts = [(run, data.store.read_drift(run)) for run in sorted(data.base_runs)]
    drifts = [(run, table) for run, table in drifts if table is not None]
    if not summaries and not drifts:
        return
    section = page.section("Is an average better or worse than its members?",
                           "Does an averaged checkpoint score like the mean of the checkpoints it averages, and "
                           "how far apart are they?")
    if summaries:
        section.text("gap = the averaged checkpoint's score minus the mean score of its members, averaged over the "
                     "final window (gold log-likelihood gap in nats); noise = std of the raw score over the window; "
                     "drift = summed relative L2 distance of the window's neighbour steps.")
        section.table(list(COLUMNS), [{**s.to_dict(), "holds": against_members(s)} for s in summaries], PAGE_HEADERS)
        for finding in linearity_findings(summaries):
            section.text(finding)
    else:
        section.text("No averaged checkpoints are in the store: `ckptlens average SERIES --window 4 --out AVG` and "
                     "`ckptlens eval AVG` add them, and this section compares them with their members.")
    for run, table in drifts:
        title = f"{run}: parameter drift between neighbouring checkpoints"
        section.figure(drift_figure(table.to_pylist(), data.figures / f"{run}__drift.png", title),
                       f"{title}: relative L2 change per step for the whole model and each module, and the cosine")
    section.text("The path between two checkpoints (is there a barrier between them?): `ckptlens interpolate A B "
                 "--tasks all --out interp` draws its loss and scores.")


def _cell(value) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)
