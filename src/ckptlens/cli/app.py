"""``ckptlens`` subcommands. Each parses its arguments and calls one API function."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ckptlens.cli.allocator import keep_freed_memory
from ckptlens.cli.console import console, stdout
from ckptlens.cli.diagnostics import drift, interpolate, linearity
from ckptlens.cli.dynamics import dynamics
from ckptlens.cli.evaluate import eval_command
from ckptlens.cli.failures import run_one_line
from ckptlens.cli.forecast import forecast
from ckptlens.cli.options import (
    DEFAULT_STORE,
    AdaptiveOpt,
    AdaptiveRule,
    Alignment,
    CategoriesOpt,
    CometModelOpt,
    Dtype,
    FilterLastOpt,
    Grouping,
    LagWeightOpt,
    LastOpt,
    MetricOpt,
    MtvTargetOpt,
    RecordFormat,
    RulesOpt,
    SizeOpt,
    SkipIncompleteOpt,
    StepsOpt,
    StoreOpt,
    TableFormat,
    WindowsOpt,
    adaptive_config,
    parse_rules,
    parse_size,
    parse_windows,
)
from ckptlens.cli.output import emit, output_stream
from ckptlens.cli.progress import stage_bars
from ckptlens.cli.representations import representations
from ckptlens.cli.stability_views import PhasesOpt, SpanOpt, StabilityBy, spans_view
from ckptlens.errors import CkptlensError

if TYPE_CHECKING:
    from ckptlens.pretrain import PretrainConfig

# Every command imports what it needs inside its function (numpy, pyarrow, matplotlib, torch, transformers):
# `ckptlens --help` and a rejected argument return in a few tenths of a second, and each command loads only
# its own stack (tests/cli/test_startup.py checks which modules --help imports).

app = typer.Typer(
    help="Measure and remove the instability of downstream scores across LLM pretraining checkpoints.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", help="Output: series/, averaged/, store/, report/.")] = Path("demo-out"),
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the tuned demo run).")] = None,
    save_every: Annotated[int | None, typer.Option(help="Steps between checkpoints.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the world, corpus and training.")] = 0,
    tiny: Annotated[bool, typer.Option("--tiny", help="Seconds-long smoke-test run; scores stay near chance.")] = False,
) -> None:
    """Pretrain a tiny model on a synthetic world, evaluate, average, ensemble and report, in one go."""
    from ckptlens.demo import DemoConfig, run_demo
    from ckptlens.report.tables import summary_table

    config = DemoConfig(pretrain=_pretrain_config(steps, save_every, seed, tiny))
    with stage_bars(console) as progress:
        report = run_demo(out, config, progress)
    console.print(summary_table(report.summary))
    console.print(f"report: {report.html}")


@app.command("pretrain")
def pretrain_command(
    out: Annotated[Path, typer.Option("--out", help="New folder for the checkpoint series.")],
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the tuned demo run).")] = None,
    save_every: Annotated[int | None, typer.Option(help="Steps between checkpoints.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of the world, corpus and training.")] = 0,
    tiny: Annotated[bool, typer.Option("--tiny", help="A seconds-long run for smoke tests.")] = False,
) -> None:
    """Pretrain the embedded demo model, saving a Hugging Face checkpoint every K steps."""
    from ckptlens.pretrain import pretrain

    config = _pretrain_config(steps, save_every, seed, tiny)
    with stage_bars(console) as progress:
        pretrain(config, out, progress=lambda step, total, loss: progress("pretrain", step, total))
    console.print(f"series: {out}")


app.command("eval")(eval_command)


@app.command()
def average(
    sources: Annotated[
        list[str], typer.Argument(help="One series (folder or hf://org/name), or several checkpoint folders.")
    ],
    out: Annotated[Path, typer.Option("--out", help="Folder for the averaged series (or the one average).")],
    window: Annotated[int | None, typer.Option("--window", help="Checkpoints per trailing-window average.")] = None,
    ema: Annotated[float | None, typer.Option("--ema", help="Exponential moving average with this decay.")] = None,
    stride: Annotated[int, typer.Option(help="Write every k-th output.")] = 1,
    steps: StepsOpt = None,
    last: FilterLastOpt = None,
    dtype: Annotated[Dtype | None, typer.Option(help="Output dtype (default: as stored).")] = None,
    skip_incomplete: SkipIncompleteOpt = False,
) -> None:
    """Average checkpoints into loadable Hugging Face folders: a trailing window, an EMA, or the listed folders once."""
    from ckptlens.averaging import AverageRequest, run_average

    request = AverageRequest(
        tuple(sources), out, window, ema, stride, steps, last, dtype and dtype.value, skip_incomplete
    )
    label = f"average n={window}" if window else f"ema {ema}" if ema is not None else "average (tensors)"
    with stage_bars(console) as progress:
        written = run_average(request, progress=lambda done, total: progress(label, done, total))
    console.print(f"{len(written)} averaged checkpoint(s) in {out}")


app.command()(drift)
app.command()(linearity)
app.command()(interpolate)
app.command()(forecast)
app.command()(dynamics)
app.command()(representations)


@app.command()
def records(
    store: StoreOpt = DEFAULT_STORE,
    fmt: Annotated[RecordFormat, typer.Option("--format", help="Output format.")] = RecordFormat.jsonl,
    out: Annotated[Path | None, typer.Option("--out", help="Output file (default: stdout).")] = None,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs.")] = None,
    task: Annotated[list[str] | None, typer.Option("--task", help="Only these tasks.")] = None,
) -> None:
    """Export per-example records (run, checkpoint, step, task, example_id, logliks, pred, gold, correct, ...)."""
    from ckptlens.store import Store, export_records

    with output_stream(out) as stream:
        n = export_records(Store(store), stream, fmt.value, run, task)
    if out is not None:
        console.print(f"{n} records written to {out}")


StabilityByOpt = Annotated[
    StabilityBy, typer.Option("--by", help="Rows per task, or means per category or metric kind.")
]


@app.command()
def stability(
    store: StoreOpt = DEFAULT_STORE,
    last: LastOpt = 0.2,
    windows: WindowsOpt = "2,4,8",
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
    by: StabilityByOpt = StabilityBy.task,
    metric: MetricOpt = None,
    bootstrap: Annotated[int, typer.Option(help="Resamples of examples for 95% intervals (0: none).")] = 1000,
    categories: CategoriesOpt = None,
    rules: RulesOpt = "vote,mean-logprob",
    adaptive: AdaptiveOpt = AdaptiveRule.tradeoff,
    lag_weight: LagWeightOpt = 0.01,
    mtv_target: MtvTargetOpt = 0.05,
    phases: PhasesOpt = None,
    span: SpanOpt = None,
) -> None:
    """Task MTV, example MTV, instability score, std (with intervals) of raw, averaged, ensembled and adaptive."""
    from ckptlens.analysis.benchmarks import load_categories
    from ckptlens.analysis.stability import StabilityConfig, stability_table, summarise
    from ckptlens.analysis.taskset import shared_tasks
    from ckptlens.report.tables import stability_rich_table, summary_table
    from ckptlens.store import Store

    config = StabilityConfig(last=last, windows=parse_windows(windows), metric=metric, bootstrap=bootstrap,
                             rules=parse_rules(rules), categories=load_categories(categories) if categories else None,
                             adaptive=adaptive_config(adaptive, lag_weight, mtv_target))
    if phases is not None or span is not None or by == "kind":
        return spans_view(Store(store), config, fmt, phases, span, by.value)

    rows = stability_table(Store(store), config)
    table = [r.to_dict() for r in rows] if by == "task" else summarise(rows, ("run", "category", "method", "window"))
    if by == "task":
        shared = shared_tasks(rows)  # every run's mean over the same tasks
        which = "every run has" if len(shared.runs) > 1 else "the run has"
        title = f"Final-window stability, mean over the tasks {which} above chance: {', '.join(shared.tasks)}"
        emit(fmt, table, lambda: [stability_rich_table(rows), summary_table(summarise(shared.rows(rows)), title)])
    else:
        emit(fmt, table, lambda: [summary_table(table, title="Final-window stability, mean over tasks per category")])


@app.command()
def scores(
    store: StoreOpt = DEFAULT_STORE,
    by: Annotated[
        Grouping, typer.Option("--by", help="Per task, or per category (lm-eval group): the mean over all its "
                               "tasks' examples, lm-eval's size-weighted group score.")
    ] = Grouping.task,
    run: Annotated[list[str] | None, typer.Option("--run", help="Only these runs.")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv, on stdout.")] = TableFormat.table,
    metric: MetricOpt = None,
    categories: CategoriesOpt = None,
    wide: Annotated[bool, typer.Option("--wide", help="One row per (run, step), one column per task.")] = False,
    html: Annotated[Path | None, typer.Option("--html", help="With --wide: also write it as an HTML page.")] = None,
) -> None:
    """Score at every checkpoint, per task or per category (an lm-eval group's score, weighted by size as lm-eval)."""
    from ckptlens.analysis.benchmarks import load_categories

    if wide:
        from ckptlens.report.wide import wide_rich_table, wide_scores, write_wide_html
        from ckptlens.store import Store

        rows = wide_scores(Store(store), run, metric, load_categories(categories) if categories else None)
        emit(fmt, rows, lambda: [wide_rich_table(rows)])
        if html is not None:
            console.print(f"html: {write_wide_html(rows, html)}")
        return
    from ckptlens.analysis.groups import task_scores, weighted_means
    from ckptlens.analysis.matrix import check_metric_known, store_matrices
    from ckptlens.report.tables import scores_rich_table
    from ckptlens.store import Store

    matrices = store_matrices(Store(store), run, load_categories(categories) if categories else None, metric)
    rows = task_scores(matrices) if by == "task" else weighted_means(matrices)
    if not rows:
        check_metric_known(Store(store), run, metric)
        which = f" of run {', '.join(run)}" if run else ""
        raise CkptlensError(f"--store {store}: no per-example scores{which} to show; evaluate (`ckptlens eval`) or "
                            "import (`ckptlens import lm-eval` with --log_samples files) into it first")
    emit(fmt, rows, lambda: [scores_rich_table(rows)])


@app.command()
def compare(
    step_a: Annotated[int, typer.Argument(help="Earlier step.")],
    step_b: Annotated[int, typer.Argument(help="Later step.")],
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Run name (default: the store's one run).")] = None,
    task: Annotated[str | None, typer.Option(help="Task name (default: every task of the run).")] = None,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table or json.")] = TableFormat.table,
    metric: MetricOpt = None,
) -> None:
    """Is the change between two checkpoints real? Exact McNemar test on per-example correctness."""
    from ckptlens.analysis.compare import compare_tasks
    from ckptlens.store import Store

    results = compare_tasks(Store(store), step_a, step_b, run, task, metric)
    sentences = [
        f"{r.task} {step_a} -> {step_b}: {r.score_a:.3f} -> {r.score_b:.3f} "
        f"({r.difference:+.3f}; lost {r.lost}, gained {r.gained} of {r.n_examples}); "
        f"exact McNemar p = {r.p_value:.3g}: {'a real change' if r.significant else 'within noise'}; "
        f"smallest difference this task detects (80% power): {r.min_detectable_difference:.3f}"
        for r in results
    ]
    emit(fmt, results[0].to_dict() if task else [r.to_dict() for r in results], lambda: sentences)


@app.command("select")
def select_command(
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Only this run.")] = None,
    last: LastOpt = 0.2,
    window: Annotated[int, typer.Option(help="Checkpoints per trailing mean, ensemble or average.")] = 4,
    splits: Annotated[int, typer.Option(help="Random halves for the held-out check.")] = 200,
    fmt: Annotated[TableFormat, typer.Option("--format", help="table, json or csv.")] = TableFormat.table,
    metric: MetricOpt = None,
) -> None:
    """Pick a checkpoint by raw vs smoothed score, and check on held-out halves which rule picks better."""
    from ckptlens.analysis.selection import SelectConfig, nothing_to_select, select_checkpoints
    from ckptlens.report.tables import selection_table
    from ckptlens.store import Store

    config = SelectConfig(last=last, window=window, splits=splits, metric=metric)
    rows = select_checkpoints(Store(store), config, run)
    if not rows:
        raise nothing_to_select(config)
    emit(fmt, [r.to_dict() for r in rows], lambda: [selection_table(rows)])


@app.command()
def report(
    store: StoreOpt = DEFAULT_STORE,
    out: Annotated[Path, typer.Option("--out", help="Report folder.")] = Path("report"),
    last: LastOpt = 0.2,
    windows: WindowsOpt = "2,4,8",
    rules: RulesOpt = "vote,mean-logprob",
    adaptive: AdaptiveOpt = AdaptiveRule.tradeoff,
    lag_weight: LagWeightOpt = 0.01,
    mtv_target: MtvTargetOpt = 0.05,
    metric: MetricOpt = None,
    categories: CategoriesOpt = None,
    tasks: Annotated[
        str | None, typer.Option("--tasks", help="Compare runs on these tasks (comma-separated), not on all shared.")
    ] = None,
) -> None:
    """Write report.html (self-contained), PNG figures and CSV/JSON tables, with failure flags and adaptive windows."""
    from ckptlens.analysis.benchmarks import load_categories
    from ckptlens.analysis.stability import StabilityConfig
    from ckptlens.report import ReportConfig, write_report
    from ckptlens.store import Store

    stability = StabilityConfig(last=last, windows=parse_windows(windows), rules=parse_rules(rules), metric=metric,
                                adaptive=adaptive_config(adaptive, lag_weight, mtv_target),
                                categories=load_categories(categories) if categories else None)
    config = ReportConfig(stability=stability, tasks=tuple(t.strip() for t in tasks.split(",")) if tasks else None)
    result = write_report(Store(store), out, config)
    console.print(f"report: {result.html}")


store_app = typer.Typer(help="Look after a store folder.", no_args_is_help=True)
app.add_typer(store_app, name="store")


@store_app.command("check")
def store_check_command(
    store: StoreOpt = DEFAULT_STORE,
    repair: Annotated[bool, typer.Option(help="Remove damaged files, stale claims and temporary leftovers.")] = False,
) -> None:
    """List damaged record files, stale claims and leftover temporary files; --repair removes them.

    Exits 1 while damage remains (0 once --repair has removed it), so CI can use it."""
    from ckptlens.store import Store, check_store, repair_store

    problems = check_store(Store(store))
    for line in problems.lines():
        stdout().print(line, highlight=False, soft_wrap=True)
    if repair and problems.removable:
        console.print(f"removed {repair_store(problems)} file(s); a rerun redoes the damaged units")
        problems = check_store(Store(store))
    if problems.removable:
        console.print(f"{len(problems.removable)} problem(s); `ckptlens store check --repair` removes them")
        raise typer.Exit(1)
    console.print(f"{store}: no damaged files, stale claims or temporary leftovers")


import_app = typer.Typer(help="Import other tools' evaluation outputs into a store.", no_args_is_help=True)
app.add_typer(import_app, name="import")


@import_app.command("lm-eval")
def import_lm_eval_command(
    paths: Annotated[list[Path], typer.Argument(help="lm-eval output folders (searched recursively) or files.")],
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Run name (default: the model name, e.g. pythia-410m).")] = None,
    step_from: Annotated[
        str | None, typer.Option("--step-from", help="Regex whose first group is the step in a file path.")
    ] = None,
    size: SizeOpt = None,
    n_params: Annotated[int | None, typer.Option("--n-params", hidden=True, help="Old name of --size.")] = None,
) -> None:
    """Import lm-eval results (0.4.x or Pythia's older format) and --log_samples records, format auto-detected."""
    from ckptlens.importers import import_lm_eval
    from ckptlens.store import Store

    with stage_bars(console) as bars:
        summary = import_lm_eval(paths, Store(store), run, step_from, parse_size(size) or n_params, progress=bars)
    console.print(
        f"imported {summary.checkpoints} checkpoints into run(s) {', '.join(summary.runs)}: "
        f"{summary.aggregate_rows} task-level results, {summary.records} per-example records"
    )


@import_app.command("llm-jp-eval")
def import_llm_jp_eval_command(
    paths: Annotated[list[Path], typer.Argument(help="llm-jp-eval result files, or folders searched for them.")],
    store: StoreOpt = DEFAULT_STORE,
    run: Annotated[str | None, typer.Option(help="Run name (default: the model's name).")] = None,
    step_from: Annotated[
        str | None, typer.Option("--step-from", help="Regex whose first group is the step in the model name or path.")
    ] = None,
    size: SizeOpt = None,
    comet_model: CometModelOpt = None,
) -> None:
    """Import llm-jp-eval result files (one per checkpoint), recomputing every example's metrics."""
    from ckptlens.importers.llm_jp_eval import import_llm_jp_eval
    from ckptlens.store import Store

    summary = import_llm_jp_eval(paths, Store(store), run, step_from, parse_size(size), comet_model)
    console.print(f"imported {summary.checkpoints} checkpoints into run(s) {', '.join(summary.runs)}: "
                  f"{summary.records} per-example records")


@app.command()
def capabilities(
    store: StoreOpt = DEFAULT_STORE,
    out: Annotated[Path, typer.Option("--out", help="Folder for capabilities.html, figures and CSV tables.")] = Path(
        "capabilities"
    ),
    align: Annotated[Alignment, typer.Option(help="x axis: training step, tokens seen or fraction of training.")] = (
        Alignment.step
    ),
    metric: MetricOpt = None,
    last: LastOpt = 0.2,
    categories: CategoriesOpt = None,
) -> None:
    """How capabilities develop across training and model sizes: curves, phases, similarity, loss, SNR."""
    from ckptlens.analysis.benchmarks import load_categories
    from ckptlens.analysis.capabilities import CapabilityConfig
    from ckptlens.report.capability_report import write_capability_report
    from ckptlens.store import Store

    config = CapabilityConfig(
        align=align.value, metric=metric, last=last, categories=load_categories(categories) if categories else None
    )
    result = write_capability_report(Store(store), out, config)
    for line in result.analysis.recommendations:
        console.print(f"- {line}", highlight=False)
    console.print(f"report: {result.html}")


def _pretrain_config(steps: int | None, save_every: int | None, seed: int, tiny: bool) -> PretrainConfig:
    from ckptlens.pretrain import PretrainConfig

    base = PretrainConfig.tiny() if tiny else PretrainConfig()
    overrides = {"seed": seed}
    if steps is not None:
        overrides["max_steps"] = steps
    if save_every is not None:
        overrides["save_every"] = save_every
    return type(base)(**{**base.to_dict(), **overrides})


def main() -> None:
    """Entry point: every failure is one line on stderr (see ``cli.failures``); freed memory is reused
    (``cli.allocator``)."""
    keep_freed_memory()
    run_one_line(app)
