"""Report section: linear CKA of neighbouring checkpoints over training, next to parameter drift."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt

from ckptlens.diagnostics.drift import WHOLE_MODEL
from ckptlens.diagnostics.representation_series import RepresentationRow, representation_rows
from ckptlens.report.data import ReportData
from ckptlens.report.figures import save_figure
from ckptlens.report.html import Page
from ckptlens.report.tables import field_names, write_csv
from ckptlens.store.representations import has_states


def stored_rows(data: ReportData) -> list[RepresentationRow]:
    """Rows of every (base run, task) whose representations the store holds."""
    return [r for run in sorted(data.base_runs) for (r_run, task) in sorted(data.matrices) if r_run == run
            and has_states(data.store, run, task) for r in representation_rows(data.store, run, task)]


def cka_figure(rows: list[RepresentationRow], drift: list[dict], path: Path, title: str) -> Path:
    """Top: CKA per (task, layer) by step; bottom: the whole model's relative L2 drift on the same steps."""
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 5.5), sharex=True, height_ratios=(2, 1))
    for task, layer in sorted({(r.task, r.layer) for r in rows}):
        line = [r for r in rows if r.task == task and r.layer == layer]
        top.plot([r.step_b for r in line], [r.cka for r in line], "o-", ms=3, lw=1.2, label=f"{task}, layer {layer}")
    top.set_ylabel("linear CKA with the previous checkpoint", fontsize=9)
    top.grid(alpha=0.3)
    top.legend(fontsize=7, ncol=2, frameon=False)
    whole = [d for d in drift if d["module"] == WHOLE_MODEL]
    bottom.plot([d["step_b"] for d in whole], [d["relative_l2"] for d in whole], "o-", color="black", ms=3)
    bottom.set_ylabel("relative L2 drift", fontsize=9)
    bottom.set_xlabel("training step (of the later checkpoint of each pair)", fontsize=9)
    bottom.grid(alpha=0.3)
    if not whole:
        bottom.text(0.5, 0.5, "no drift stored: `ckptlens drift SERIES --store STORE`", ha="center",
                    transform=bottom.transAxes, fontsize=8)
    fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def representations_section(page: Page, data: ReportData) -> None:
    """How much do the task prompts' representations move between neighbouring checkpoints?"""
    rows = stored_rows(data)
    if not rows:
        return
    write_csv([r.to_dict() for r in rows], data.out / "representations.csv", field_names(RepresentationRow))
    section = page.section("Representations over training",
                           "How much do the representations of the tasks' prompts move between neighbouring "
                           "checkpoints, and do the examples that move more flip?")
    section.text("CKA = linear centred kernel alignment of the mean-pooled hidden states of each task's prompts at "
                 "two neighbouring checkpoints (1: the same up to a rotation). Table: representations.csv, with "
                 "per step the Spearman correlation of each example's last-layer cosine change with its flip.")
    for run in sorted({r.run for r in rows}):
        table = data.store.read_drift(run)
        title = f"{run}: representation similarity of neighbouring checkpoints, and parameter drift"
        section.figure(cka_figure([r for r in rows if r.run == run], table.to_pylist() if table is not None else [],
                                  data.figures / f"{run}__cka.png", title), title)
