"""``ckptlens representations``: how far the task prompts' hidden states move between neighbouring checkpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptlens.cli.options import DEFAULT_STORE, StoreOpt, TableFormat
from ckptlens.cli.output import emit
from ckptlens.errors import CkptlensError

COLUMNS = ("run", "task", "step_a", "step_b", "layer", "cka", "mean_cosine_change", "flip_spearman")


def representations(
    series: Annotated[str | None, typer.Argument(
        help="Series folder of checkpoint folders; leave out to analyse the states already in --store.")] = None,
    tasks: Annotated[list[str] | None, typer.Option(
        "--tasks", help="Task files or built-in task names, comma-separated (without SERIES: stored task names).")
    ] = None,
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(
        help="Run name in the store (default: the series folder name; without SERIES: every run with states).")
    ] = None,
    layers: Annotated[
        str | None, typer.Option(help="Layers, comma-separated (0: embeddings; default: the middle and last).")
    ] = None,
    dims: Annotated[int, typer.Option(help="Features kept per layer (a fixed random projection above).")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the projection.")] = 0,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
) -> None:
    """Hidden states of each task's prompts per checkpoint (stored, float16, projected); linear CKA per layer of
    neighbouring checkpoints; rank correlation of each example's last-layer cosine change with its flip.

    Without SERIES, reads the states a previous run stored (``eval --representations`` or this command): no model."""
    from ckptlens.cli.stability_views import dict_table
    from ckptlens.diagnostics.representation_series import representations_of
    from ckptlens.store import Store
    from ckptlens.store.representations import StateSettings

    try:
        chosen = tuple(int(x) for x in layers.split(",")) if layers else None
    except ValueError:
        raise CkptlensError(f"--layers takes comma-separated integers, got {layers!r}") from None
    names = [n for spec in tasks or () for n in spec.split(",") if n]
    found = representations_of(Store(store), series, names, run, StateSettings(chosen, dims, seed))
    rows = [r.to_dict() for r in found]
    emit(fmt, rows, lambda: [dict_table("Representation change between neighbouring checkpoints", rows, COLUMNS)])
