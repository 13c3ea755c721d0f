"""``ckptlens eval``: its flags (one table, ``FLAGS``, each an ``EvalRequest`` field), parsed into one request.

The command builds an ``EvalRequest`` (from the flags, or from ``--config eval.yaml`` with the
flags given on the command line winning), checks it all at once before torch is imported,
and hands it to the API: ``executors.run_request``, or ``watch.watch_request`` with ``--watch``.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ckptlens.cli.cluster import Executor
from ckptlens.cli.console import console
from ckptlens.cli.options import (
    DEFAULT_STORE,
    ChatTemplateOpt,
    CometModelOpt,
    Dtype,
    FewshotSeedOpt,
    FilterLastOpt,
    IncludePathOpt,
    LimitOpt,
    NumFewshotOpt,
    SizeOpt,
    SkipIncompleteOpt,
    StepsOpt,
    StoreOpt,
)
from ckptlens.cli.progress import stage_bars

if TYPE_CHECKING:
    from ckptlens.evaluation.request import EvalRequest

Opt = typer.Option
FLAGS: list[tuple[str, object, object]] = [  # (EvalRequest field, typer annotation, default)
    ("series", Annotated[str | None, typer.Argument(
        help="Series: folder of checkpoint folders, or hf://org/name (Hub steps); or `series:` in --config.")], None),
    ("more_tasks", Annotated[list[str] | None, typer.Argument(help="More tasks after --tasks.")], None),
    ("tasks", Annotated[list[str] | None, Opt(
        "--tasks", help="Task files (.jsonl, .yaml template or lm-eval task, .txt perplexity), or built-in task "
        "names / 'all'; space- or comma-separated. Required unless the series records its tasks (the demo's).")], None),
    ("config", Annotated[Path | None, Opt(help="YAML file of these options (flags given here win).")], None),
    ("store", StoreOpt, DEFAULT_STORE),
    ("run", Annotated[str | None, Opt(help="Run name in the store (default: the series folder name).")], None),
    ("batch_size", Annotated[int, Opt(help="Sequences per forward pass, at most.")], 32),
    ("batch_tokens", Annotated[int | None, Opt(help="Multiple choice: tokens per forward pass, options included "
                                                    "(default: 2048 on CPU, from the free memory on CUDA).")], None),
    ("dtype", Annotated[Dtype, Opt(help="Precision to run the model in.")], Dtype.float32),
    ("device", Annotated[str | None, Opt(help="cpu, cuda, cuda:1 ... (default: CUDA when present).")], None),
    ("steps", StepsOpt, None),
    ("last", FilterLastOpt, None),
    ("average_window", Annotated[int | None, Opt(
        help="Evaluate trailing-window averages of n checkpoints, held in memory.")], None),
    ("allow_pickle", Annotated[bool, Opt(help="Load pytorch_model.bin (trusted folders only).")], False),
    ("relink", Annotated[bool, Opt(help="Re-point the run at this series (moved) when its checkpoints match.")], False),
    ("watch", Annotated[bool, Opt(help="Keep polling; evaluate each new checkpoint once complete.")], False),
    ("poll_seconds", Annotated[float, Opt(help="With --watch: seconds between polls.")], 30.0),
    ("watch_timeout", Annotated[float | None, Opt(help="With --watch: stop after N idle seconds.")], None),
    ("complete_marker", Annotated[str | None, Opt(help="With --watch: complete when this file exists.")], None),
    ("report", Annotated[Path | None, Opt("--report", help="With --watch: refresh this report.")], None),
    ("executor", Annotated[Executor, Opt(help="local: in this process; ray: units fanned out on Ray.")],
     Executor.local),
    ("address", Annotated[str | None, Opt(help="Ray cluster: auto or ray://host:10001 (default: local).")], None),
    ("shard_size", Annotated[int | None, Opt(help="Split tasks larger than N examples into shards.")], None),
    ("max_retries", Annotated[int | None, Opt(help="Ray: re-runs of a unit whose worker died [3].")], None),
    ("skip_incomplete", SkipIncompleteOpt, False),
    ("reevaluate", Annotated[bool, Opt(help="Re-evaluate and replace stored units whose task prompts changed.")],
     False),
    ("include_path", IncludePathOpt, None),
    ("num_fewshot", NumFewshotOpt, None),
    ("limit", LimitOpt, None),
    ("fewshot_seed", FewshotSeedOpt, 1234),
    ("apply_chat_template", ChatTemplateOpt, False),
    ("split", Annotated[str, Opt(help="llm-jp-eval tasks: dev or test.")], "dev"),
    ("comet_model", CometModelOpt, None),
    ("size", SizeOpt, None),
    ("representations", Annotated[bool, Opt(
        "--representations", help="Also store each prompt's hidden states from the scoring and generation passes "
        "(for `ckptlens representations --store`).")], False),
    ("representation_layers", Annotated[str | None, Opt(
        "--layers", help="With --representations: layers, comma-separated (0: embeddings; default: the middle and "
        "last).")], None),
    ("representation_dims", Annotated[int, Opt("--projection-dims", help="With --representations: features kept "
                                                                           "per layer.")], 256),
    ("representation_seed", Annotated[int, Opt("--projection-seed", help="With --representations: seed of the "
                                                                           "projection.")], 0),
]  # fmt: skip
DEFAULTS = {name: default for name, _, default in FLAGS}


def eval_command(**flags) -> None:
    """Evaluate every checkpoint of a series on tasks, keeping per-example records; reruns skip finished work.

    ``--tasks lm-eval:NAME`` runs lm-evaluation-harness's own task, tag or group NAME (or YAML path).
    """
    run_eval(eval_request(flags))


eval_command.__signature__ = inspect.Signature(  # typer reads the flags from the signature: built from FLAGS
    [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
     for name, annotation, default in FLAGS]
)


def eval_request(flags: dict) -> EvalRequest:
    """The request the flags (and ``--config``) describe, with every problem reported at once; no torch yet."""
    from ckptlens.evaluation.request import EvalRequest

    flags = dict(flags)
    tasks = [*(flags.pop("tasks") or []), *(flags.pop("more_tasks") or [])]
    config = flags.pop("config")
    if config is None:
        return EvalRequest.from_cli(tasks=tasks, **flags).validate()
    given = {k: v for k, v in flags.items() if v != DEFAULTS[k]}
    return EvalRequest.from_yaml(config, tasks=tasks, **given).validate()


def run_eval(request: EvalRequest) -> None:
    """Run the request: units on its executor behind progress bars, or the watch loop."""
    if request.watch:
        return _watch(request)
    from ckptlens.evaluation.executors import run_request  # torch and transformers: the request is fine

    with stage_bars(console) as bars:
        summary = run_request(request, progress=lambda done, total: bars("evaluate", done, total))
    console.print(f"evaluated {summary.units_done} (checkpoint, task) units, {summary.units_skipped} already stored")


def _watch(request: EvalRequest) -> None:
    from ckptlens.cli.watching import refresh_after_each
    from ckptlens.evaluation.watch import watch_request
    from ckptlens.store import Store

    report = None if request.report is None else Path(request.report)
    done = watch_request(request, refresh_after_each(console, Store(request.store), report, request.last, request.run))
    console.print(f"watch ended: {len(done.checkpoints)} checkpoint(s), {done.units_done} new units")
