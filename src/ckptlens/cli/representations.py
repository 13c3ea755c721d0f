"""``ckptlens representations``: how far the task prompts' hidden states move between neighbouring checkpoints."""

from __future__ import annotations

from typing import Annotated

import typer

from ckptlens.cli.options import DEFAULT_STORE, StoreOpt, TableFormat
from ckptlens.cli.output import emit
from ckptlens.errors import CkptlensError

COLUMNS = ("task", "step_a", "step_b", "layer", "cka", "mean_cosine_change", "flip_spearman")


def representations(
    series: Annotated[str, typer.Argument(help="Series folder of checkpoint folders.")],
    tasks: Annotated[list[str], typer.Option("--tasks", help="Task files or built-in task names, comma-separated.")],
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Run name in the store (default: the series folder name).")] = None,
    layers: Annotated[
        str | None, typer.Option(help="Layers, comma-separated (0: embeddings; default: the middle and last).")
    ] = None,
    dims: Annotated[int, typer.Option(help="Features kept per layer (a fixed random projection above).")] = 256,
    seed: Annotated[int, typer.Option(help="Seed of the projection.")] = 0,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
) -> None:
    """Hidden states of each task's prompts per checkpoint (stored, float16, projected); linear CKA per layer of
    neighbouring checkpoints; rank correlation of each example's last-layer cosine change with its flip."""
    from pathlib import Path

    from ckptlens.cli.stability_views import dict_table
    from ckptlens.diagnostics.representation_series import record_series, representation_rows
    from ckptlens.store import Store
    from ckptlens.tasks.resolve import resolve_tasks

    try:
        chosen = tuple(int(x) for x in layers.split(",")) if layers else None
    except ValueError:
        raise CkptlensError(f"--layers takes comma-separated integers, got {layers!r}") from None
    names = [n for spec in tasks for n in spec.split(",") if n]
    resolved = [t for t in resolve_tasks(names, series) if t.kind != "perplexity"]
    opened, name = Store(store), run or Path(series).resolve().name
    record_series(series, resolved, opened, name, chosen, dims, seed)
    rows = [r.to_dict() for t in resolved for r in representation_rows(opened, name, t.name)]
    emit(fmt, rows, lambda: [dict_table("Representation change between neighbouring checkpoints", rows, COLUMNS)])
