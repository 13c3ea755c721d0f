"""Commands that look at parameter space: ``drift``, ``linearity``, ``interpolate`` (registered in ``cli.app``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ckptlens.cli.console import console, stdout
from ckptlens.cli.options import (
    DEFAULT_STORE,
    FewshotSeedOpt,
    IncludePathOpt,
    LastOpt,
    LimitOpt,
    NumFewshotOpt,
    StoreOpt,
    TableFormat,
    with_lm_eval_tasks,
)
from ckptlens.cli.output import emit
from ckptlens.cli.progress import stage_bars
from ckptlens.errors import CkptlensError
from ckptlens.tasks.lm_eval_index import DEFAULT_FEWSHOT_SEED

if TYPE_CHECKING:
    from ckptlens.store import Store

FormatOpt = Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")]


def drift(
    series: Annotated[Path, typer.Argument(help="Series folder of checkpoint folders with safetensors weights.")],
    fmt: FormatOpt = TableFormat.table,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG of drift along training.")] = None,
    store: Annotated[Path | None, typer.Option("--store", help="Also record the drift in this store.")] = None,
    run: Annotated[str | None, typer.Option(help="Run to record it under (default: the run of SERIES).")] = None,
) -> None:
    """How far each checkpoint moved from the one before: L2, relative L2 and cosine, whole model and per module."""
    from ckptlens.diagnostics import series_drift
    from ckptlens.report.drift import drift_figure, drift_rich_table
    from ckptlens.store import Store, drift_table

    target = None if store is None else (Store(store), run or run_of_series(Store(store), series))
    with stage_bars(console) as bars:  # a write refused is then the only line left, as a failed drift is
        rows = [r.to_dict() for r in series_drift(series, progress=lambda done, total: bars("drift", done, total))]
        if target is not None:
            console.print(f"recorded: {target[0].write_drift(target[1], drift_table(rows))}")
        if plot is not None:
            console.print(f"figure: {drift_figure(rows, plot)}")
    emit(fmt, rows, lambda: [drift_rich_table(rows)])


def linearity(store: StoreOpt = DEFAULT_STORE, last: LastOpt = 0.2, fmt: FormatOpt = TableFormat.table) -> None:
    """Does an averaged checkpoint score like the mean of its members? Gap per task and window, with drift."""
    from ckptlens.analysis.linearity import linearity_gaps, summarise_gaps
    from ckptlens.report.linearity import linearity_findings, linearity_rich_table
    from ckptlens.store import Store

    summaries = summarise_gaps(linearity_gaps(Store(store), last))
    if not summaries:
        raise CkptlensError(f"{store} holds no averaged run linked to a base run: run `ckptlens average SERIES "
                            f"--window 4 --out AVG` and `ckptlens eval AVG --tasks TASKS --store {store}` first")
    emit(fmt, [s.to_dict() for s in summaries],
         lambda: [linearity_rich_table(summaries), *linearity_findings(summaries)])


def interpolate(
    a: Annotated[Path, typer.Argument(help="First checkpoint folder (alpha = 0).")],
    b: Annotated[Path, typer.Argument(help="Second checkpoint folder (alpha = 1); its config and tokenizer are used.")],
    tasks: Annotated[
        list[str], typer.Option("--tasks", help="Built-in task names, 'all', or task files; .txt gives the loss.")
    ],
    points: Annotated[int, typer.Option(help="Evenly spaced points from a to b, both ends included.")] = 5,
    out: Annotated[Path, typer.Option(help="Folder for interpolation.csv and interpolation.png.")] = Path("interp"),
    batch_size: Annotated[int, typer.Option(help="Sequences per forward pass.")] = 32,
    device: Annotated[str | None, typer.Option(help="cpu, cuda, ... (default: CUDA when present).")] = None,
    include_path: IncludePathOpt = None,
    num_fewshot: NumFewshotOpt = None,
    limit: LimitOpt = None,
    fewshot_seed: FewshotSeedOpt = DEFAULT_FEWSHOT_SEED,
) -> None:
    """Evaluate models on the straight line between two checkpoints: a flat path, or a barrier?"""
    from ckptlens.diagnostics.interpolation import barriers, interpolation_path
    from ckptlens.evaluation.runner import EvalConfig
    from ckptlens.report.interpolation import barrier_rich_table, interpolation_figure
    from ckptlens.report.tables import write_csv
    from ckptlens.tasks.resolve import resolve_tasks
    from ckptlens.tasks.task import Task

    names = [n for spec in tasks for n in spec.split(",") if n]
    specs = with_lm_eval_tasks(names, include_path, num_fewshot, limit, fewshot_seed, False)
    task_list = [t for spec in specs for t in ([spec] if isinstance(spec, Task) else resolve_tasks([spec], b.parent))]
    with stage_bars(console) as bars:
        path = interpolation_path(a, b, task_list, points, EvalConfig(batch_size=batch_size, device=device),
                                  progress=lambda done, total: bars("interpolate", done, total))
        write_csv([p.to_dict() for p in path], out / "interpolation.csv")
        figure = interpolation_figure(path, out / "interpolation.png", f"{a.name} → {b.name}")
    console.print(f"table: {out / 'interpolation.csv'}  figure: {figure}")
    stdout().print(barrier_rich_table(barriers(path)))


def run_of_series(store: Store, series: Path) -> str:
    """The run whose evaluation read ``series`` (its run info names the folder)."""
    from ckptlens.checkpoints import series_id

    wanted = series_id(series)  # run infos hold this canonical form: compared as written, never re-resolved
    runs = [info.run for info in store.run_infos() if info.series == wanted]
    if len(runs) != 1:
        found = "no run" if not runs else f"runs {', '.join(runs)}"
        raise CkptlensError(f"{found} in {store.root} evaluated {series}; name the run with --run")
    return runs[0]
