"""Report section: flip rate against margin, and the gold probability of the most unstable examples."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from ckptlens.analysis.matrix import TaskMatrix
from ckptlens.analysis.probability_dynamics import DynamicsSummary, MarginBin, gold_probability, unstable_examples
from ckptlens.report.data import ReportData
from ckptlens.report.figures import STEP_LABEL, save_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import field_names, write_csv

COLUMNS = ("task", "first_step", "last_step", "n_pairs", "flip_rate", "spearman", "spearman_lo", "spearman_hi",
           "window", "removed_low", "removed_high")
HEADERS = {"n_pairs": "pairs", "flip_rate": "flip rate", "spearman": "ρ(|margin|, flip)", "spearman_lo": "lo",
           "spearman_hi": "hi", "removed_low": "removed, small margins", "removed_high": "removed, large margins"}


def flip_figure(bins: list[MarginBin], path: Path, title: str) -> Path:
    """Flip rate per |margin| decile with Wilson intervals, raw (solid) and the ensemble (dashed), per task."""
    fig, ax = plt.subplots(figsize=(8, 3.8))
    for i, task in enumerate(sorted({b.task for b in bins})):
        row = [b for b in bins if b.task == task]
        colour = plt.get_cmap("tab10")(i % 10)
        ax.errorbar([b.bin for b in row], [b.flip_rate for b in row],
                    yerr=[[b.flip_rate - b.flip_rate_lo for b in row], [b.flip_rate_hi - b.flip_rate for b in row]],
                    fmt="o-", color=colour, ms=3, lw=1.2, capsize=2, label=task)
        ens = [b for b in row if b.ensemble_flip_rate is not None]
        ax.plot([b.bin for b in ens], [b.ensemble_flip_rate for b in ens], "--", color=colour, lw=1, alpha=0.8)
    ax.set_xticks(range(1, 11))
    ax.set_xlabel("decile of |margin| at t (1 = closest to the decision boundary)", fontsize=9)
    ax.set_ylabel("P(correctness flips to t+1)", fontsize=9)
    ax.set_title(title + " (dashed: ensemble)", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=3, frameon=False)
    return save_figure(fig, path)


def trajectories_figure(matrices: list[TaskMatrix], path: Path, title: str, k: int = 6) -> Path:
    """Per task, the gold option's probability over training of its k most often flipping examples."""
    cols = min(3, len(matrices))
    rows = -(-len(matrices) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.0 * rows), squeeze=False)
    for ax, matrix in zip(axes.flat, matrices):
        prob = gold_probability(matrix.logliks, matrix.gold)
        for i in unstable_examples(matrix, k):
            ax.plot(matrix.steps, prob[i], lw=1, label=str(matrix.example_ids[i]))
        ax.set_title(matrix.task, fontsize=9)
        ax.set_xlabel(STEP_LABEL, fontsize=8)
        ax.set_ylabel("p(gold among options)", fontsize=8)
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(matrices):]:
        ax.axis("off")
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def dynamics_section(page: Page, data: ReportData) -> None:
    """How does output instability relate to prediction-probability dynamics?"""
    results = data.margins
    bins = [b for found, _ in results for b in found]
    summary = [s for _, s in results]
    write_csv([b.to_dict() for b in bins], data.out / "margin_bins.csv", field_names(MarginBin))
    write_csv([s.to_dict() for s in summary], data.out / "margin_summary.csv", field_names(DynamicsSummary))
    if not results:
        return
    section = page.section("Probability dynamics: does a small margin predict a flip?",
                           "How does output instability relate to the model's probabilities?")
    section.text("margin = gold log-likelihood − best other option's; pairs (example, t → t+1) of the final window "
                 "cut into deciles of |margin| at t; flip rate with 95% Wilson intervals; ρ = Spearman correlation "
                 "with a 95% bootstrap interval over examples (negative: small margins flip). removed = share of raw "
                 "flips the ensemble does not make, below / above the median |margin|. Tables: margin_bins.csv, "
                 "margin_summary.csv.")
    for run in sorted({s.run for s in summary}):
        title = f"{run}: flip rate to the next checkpoint by |margin| decile"
        section.figure(flip_figure([b for b in bins if b.run == run], data.figures / f"{run}__margins.png", title),
                       title)
        section.table(COLUMNS, [s.to_dict() for s in summary if s.run == run], HEADERS)
        matrices = [m for (r, _), m in sorted(data.matrices.items())
                    if r == run and any(s.task == m.task and s.run == run for s in summary)]
        title = f"{run}: gold probability over training of the most often flipping examples"
        section.figure(trajectories_figure(matrices, data.figures / f"{run}__gold_probability.png", title), title)
