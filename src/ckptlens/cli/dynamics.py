"""``ckptlens dynamics``: does a small margin predict a flip? (``analysis.probability_dynamics``)."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptlens.cli.options import DEFAULT_STORE, LastOpt, StoreOpt, TableFormat
from ckptlens.cli.output import emit

BIN_COLUMNS = ("task", "bin", "margin_lo", "margin_hi", "n_pairs", "flip_rate", "flip_rate_lo", "flip_rate_hi",
               "ensemble_flip_rate", "ensemble_flip_rate_lo", "ensemble_flip_rate_hi")
SUMMARY_COLUMNS = ("run", "task", "first_step", "last_step", "n_pairs", "flip_rate", "spearman", "spearman_lo",
                   "spearman_hi", "window", "removed_low", "removed_high")


def dynamics(
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs (default: every base run).")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these tasks.")] = None,
    last: LastOpt = 0.2,
    window: Annotated[int, typer.Option(help="Ensemble window set against raw, per margin decile.")] = 4,
    bootstrap: Annotated[int, typer.Option(help="Resamples of examples for the correlation's 95% interval.")] = 1000,
    per_example: Annotated[
        bool, typer.Option("--per-example", help="Print every (example, checkpoint) margin and gold probability.")
    ] = False,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
) -> None:
    """Margin and gold probability per example and checkpoint; flip rate by |margin| decile (Wilson intervals),
    its rank correlation with flipping (bootstrap interval), and the flips the window-n ensemble removes."""
    from ckptlens.analysis.probability_dynamics import DynamicsConfig, dynamics_matrices, example_rows, margin_dynamics
    from ckptlens.cli.stability_views import dict_table
    from ckptlens.store import Store

    found = dynamics_matrices(Store(store), run, task)
    if per_example:
        rows = [r for m in found for r in example_rows(m)]
        emit(fmt, rows, lambda: [dict_table("Margin and gold probability", rows, tuple(rows[0]))])
        return
    config = DynamicsConfig(last=last, window=window, bootstrap=bootstrap)
    results = [margin_dynamics(m, config) for m in found]
    bins = [b.to_dict() for found_bins, _ in results for b in found_bins]
    summary = [s.to_dict() for _, s in results]
    payload = bins if fmt is TableFormat.csv else {"summary": summary, "bins": bins}
    emit(fmt, payload, lambda: [
        dict_table(f"Flip rate to the next checkpoint by |margin| decile (ensemble window {window})", bins,
                   BIN_COLUMNS),
        dict_table("Does a small margin predict a flip? Spearman(|margin|, flip), share of flips the ensemble "
                   "removes below / above the median |margin|", summary, SUMMARY_COLUMNS),
    ])
