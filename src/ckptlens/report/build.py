"""Write the report folder: ``report.html`` (self-contained), PNG figures, CSV and JSON tables.

>>> write_report(Store("demo-out/store"), "demo-out/report")  # doctest: +SKIP
"""

from __future__ import annotations

import base64
import html
from dataclasses import asdict, dataclass
from pathlib import Path

from ckptlens.analysis.stability import StabilityConfig, StabilityRow, stability_table, summarise
from ckptlens.analysis.trajectories import trajectories
from ckptlens.report.figures import loss_figure, trajectory_figure
from ckptlens.report.tables import TABLE_COLUMNS, summary_order, write_csv, write_json
from ckptlens.store import Store


@dataclass(frozen=True)
class ReportConfig:
    stability: StabilityConfig = StabilityConfig()
    plot_windows: tuple[int, ...] = (4, 8)  # averaged/ensembled windows drawn next to raw


@dataclass(frozen=True)
class Report:
    html: Path
    rows: list[StabilityRow]
    summary: list[dict]


def write_report(store: Store, out: str | Path, config: ReportConfig = ReportConfig()) -> Report:
    """Compute the stability table and trajectories from ``store`` and write them all under ``out``."""
    out = Path(out)
    rows = stability_table(store, config.stability)
    summary = summarise(rows)
    points = trajectories(store, config.plot_windows)
    write_json([r.to_dict() for r in rows], out / "stability.json")
    write_csv([r.to_dict() for r in rows], out / "stability.csv")
    write_csv(summary, out / "summary.csv")
    write_csv([asdict(p) for p in points], out / "trajectories.csv")
    figures = _trajectory_figures(rows, points, out / "figures")
    figures += _loss_figures(store, out / "figures")
    page = out / "report.html"
    page.write_text(_html_page(rows, summary, figures, config))
    return Report(page, rows, summary)


def _trajectory_figures(rows: list[StabilityRow], points, folder: Path) -> list[tuple[str, Path]]:
    figures = []
    for row in rows:
        if row.method != "raw":
            continue
        pts = [p for p in points if p.run == row.run and p.task == row.task]
        title = f"{row.run} / {row.task}" + (" (near chance)" if row.near_chance else "")
        path = trajectory_figure(pts, row.first_step, folder / f"{row.run}__{row.task}.png", title)
        figures.append((title, path))
    return figures


def _loss_figures(store: Store, folder: Path) -> list[tuple[str, Path]]:
    figures = []
    for run in store.runs():
        info = store.run_info(run)
        if info.get("loss_curve") and not info.get("averaged_from"):
            title = f"{run}: training and validation loss"
            figures.append((title, loss_figure(info["loss_curve"], folder / f"{run}__loss.png", title)))
    return figures


def _html_page(rows: list[StabilityRow], summary: list[dict], figures, config: ReportConfig) -> str:
    window = config.stability.last
    parts = [
        "<!doctype html><meta charset='utf-8'><title>ckptlens report</title>",
        f"<style>{_CSS}</style><h1>ckptlens report</h1>",
        f"<p>Stability over the final {window:.0%} of training (by step). Scores and MTVs are fractions. "
        "Tasks near chance are marked and left out of the means over tasks.</p>",
        "<h2>Mean over tasks</h2>",
        _html_table(["run", "method", "window", "n_tasks", *TABLE_COLUMNS], sorted(summary, key=summary_order)),
        "<h2>Score trajectories</h2>",
        *(f"<figure><img src='data:image/png;base64,{_b64(p)}' alt='{html.escape(t)}'></figure>" for t, p in figures),
        "<h2>Stability table</h2>",
        _html_table(
            ["run", "task", "category", "method", "window", "n_checkpoints", "first_step", "last_step",
             *TABLE_COLUMNS, "relative_std", "monotonicity", "flip_fraction", "forgetting_events", "near_chance"],
            [r.to_dict() for r in rows],
        ),
    ]
    return "\n".join(parts)


def _html_table(columns: list[str], rows: list[dict]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{_cell(r.get(c))}</td>" for c in columns) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.3f}"
    return html.escape(str(value))


def _b64(path: Path) -> str:
    return base64.b64encode(path.read_bytes()).decode()


_CSS = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1100px}"
    "table{border-collapse:collapse;font-size:12px;margin:1em 0}"
    "th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#f3f3f3}"
    "td:first-child,td:nth-child(2){text-align:left}img{max-width:100%}"
)
