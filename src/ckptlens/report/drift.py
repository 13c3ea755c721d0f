"""Drift as a figure and a terminal table: how far each checkpoint moved from the one before.

Rows are plain mappings (``DriftRow.to_dict()``, or the store's drift table as
``to_pylist()``), so the report draws recorded drift without importing torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.table import Table  # noqa: E402

from ckptlens.report.figures import save_figure  # noqa: E402
from ckptlens.report.tables import add_columns
from ckptlens.store import WHOLE_MODEL  # noqa: E402

TITLE = "Parameter drift between neighbouring checkpoints"


def drift_figure(rows: Sequence[Mapping], path: Path, title: str = TITLE) -> Path:
    """Relative L2 drift by step (whole model in black, each module faint) and the whole model's cosine.

    A drift that shrinks late in training is what makes a trailing-window average close to its members.
    """
    curves: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        curves[row["module"]].append(row)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 5), sharex=True, height_ratios=(2, 1))
    for module, points in sorted(curves.items()):
        if module != WHOLE_MODEL:
            steps, drift = [p["step_b"] for p in points], [p["relative_l2"] for p in points]
            top.plot(steps, drift, color="tab:blue", alpha=0.25, lw=0.8)
    whole = curves[WHOLE_MODEL]
    steps = [p["step_b"] for p in whole]
    top.plot(steps, [p["relative_l2"] for p in whole], "o-", color="black", ms=3, lw=1.5, label="whole model")
    top.plot([], [], color="tab:blue", alpha=0.4, label="modules")
    top.set(ylabel=r"$\|\theta_t - \theta_{t-1}\| \,/\, \|\theta_{t-1}\|$", title=title, yscale="log")
    top.legend(fontsize=7)
    bottom.plot(steps, [p["cosine"] for p in whole], "o-", color="black", ms=3, lw=1.2)
    bottom.set(xlabel="step", ylabel=r"$\cos(\theta_{t-1}, \theta_t)$")
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
    return save_figure(fig, path)


def drift_rich_table(rows: Sequence[Mapping]) -> Table:
    """The whole-model row of each neighbouring pair; per-module rows are in the CSV/JSON output."""
    table = Table(title="Parameter drift, whole model (per module: --format csv or json)", title_justify="left")
    add_columns(table, ("step_a", "step_b", "l2", "relative_l2", "cosine"))
    for r in rows:
        if r["module"] == WHOLE_MODEL:
            table.add_row(str(r["step_a"]), str(r["step_b"]), f"{r['l2']:.4g}", f"{r['relative_l2']:.4g}",
                          f"{r['cosine']:.6f}")
    return table
