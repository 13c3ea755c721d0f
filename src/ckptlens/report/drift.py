"""Drift as a figure and a terminal table: how far each checkpoint moved from the one before.

Rows are plain mappings (``DriftRow.to_dict()``, or the store's drift table as
``to_pylist()``), so the report draws recorded drift without importing torch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from rich.table import Table  # noqa: E402

from ckptlens.report.figures import save_figure  # noqa: E402
from ckptlens.report.tables import add_columns
from ckptlens.store import WHOLE_MODEL  # noqa: E402

TITLE = "Parameter drift between neighbouring checkpoints"


KINDS = (  # (name shown in the legend, colour map, words a module name holds), first match wins
    ("attention", "Blues", ("attn", "attention")),
    ("MLP", "Oranges", ("mlp", "feed_forward", "ffn")),
    ("norm", "Greens", ("norm", "ln_")),
    ("embedding / output head", "Purples", ("embed", "wte", "wpe", "lm_head", "embed_out")),
)
OTHER_KIND = ("other", "Greys", ())
LABELLED = 3  # modules named in the legend (dashed): those that moved most at the last step


def drift_figure(rows: Sequence[Mapping], path: Path, title: str = TITLE) -> Path:
    """Relative L2 drift by step (whole model in black, each module coloured by kind, deeper layers darker, the
    modules that moved most at the last step dashed and named) and the whole model's cosine.

    A drift that shrinks late in training is what makes a trailing-window average close to its members.
    """
    curves: dict[str, list[Mapping]] = defaultdict(list)
    for row in rows:
        curves[row["module"]].append(row)
    modules = sorted(m for m in curves if m != WHOLE_MODEL)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(9, 6.5), sharex=True, height_ratios=(2.3, 1))
    by_kind = defaultdict(list)
    for module in modules:
        by_kind[module_kind(module)].append(module)
    named = sorted(modules, key=lambda m: curves[m][-1]["relative_l2"])[-LABELLED:]
    for (kind, cmap, _), members in sorted(by_kind.items()):
        shades = plt.get_cmap(cmap)(np.linspace(0.4, 0.95, len(members)))
        for module, colour in zip(members, shades):
            points = curves[module]
            style = dict(lw=1.8, ls="--", label=module) if module in named else dict(lw=0.8, alpha=0.7)
            top.plot([p["step_b"] for p in points], [p["relative_l2"] for p in points], color=colour, **style)
        top.plot([], [], color=shades[-1], lw=1.5, label=f"{kind}: {len(members)} module(s), darker = deeper")
    whole = curves[WHOLE_MODEL]
    steps = [p["step_b"] for p in whole]
    top.plot(steps, [p["relative_l2"] for p in whole], "o-", color="black", ms=3, lw=1.8, label="whole model")
    top.set_yscale("log")
    top.set_ylabel("relative L2 change\n‖θ(t) − θ(t−1)‖ / ‖θ(t−1)‖", fontsize=9)
    top.set_title(title, fontsize=10)
    bottom.plot(steps, [p["cosine"] for p in whole], "o-", color="black", ms=3, lw=1.2)
    bottom.set_xlabel("training step (of the later checkpoint of each pair)", fontsize=9)
    fig.legend(*top.get_legend_handles_labels(), fontsize=8, ncol=2, loc="upper center", bbox_to_anchor=(0.5, 0.0),
               frameon=False)  # below both panels, off the lines
    bottom.set_ylabel("cosine(θ(t−1), θ(t))", fontsize=9)
    for ax in (top, bottom):
        ax.grid(alpha=0.3)
        ax.tick_params(labelsize=8)
    return save_figure(fig, path)


def module_kind(module: str) -> tuple[str, str, tuple[str, ...]]:
    """The kind a module is drawn as (attention, MLP, norm, embedding / output head, other), from its name.

    >>> module_kind("model.layers.3.self_attn")[0], module_kind("lm_head")[0], module_kind("x.rotary")[0]
    ('attention', 'embedding / output head', 'other')
    """
    name = module.lower()
    return next((kind for kind in KINDS if any(word in name for word in kind[2])), OTHER_KIND)


def drift_rich_table(rows: Sequence[Mapping]) -> Table:
    """The whole-model row of each neighbouring pair; per-module rows are in the CSV/JSON output."""
    table = Table(title="Parameter drift, whole model (per module: --format csv or json)", title_justify="left")
    add_columns(table, ("step_a", "step_b", "l2", "relative_l2", "cosine"))
    for r in rows:
        if r["module"] == WHOLE_MODEL:
            table.add_row(str(r["step_a"]), str(r["step_b"]), f"{r['l2']:.4g}", f"{r['relative_l2']:.4g}",
                          f"{r['cosine']:.6f}")
    return table
