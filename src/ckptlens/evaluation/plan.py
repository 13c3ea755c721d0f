"""From a request to the (checkpoint, task) units to run: series opened, tasks resolved once, run recorded.

``build_plan`` does every check that can fail before any unit runs: the request
(all problems at once), the device, the series and its filters, every task
(resolved exactly once into ``Task`` objects: files, built-ins, lm-eval's own
tasks with their requests built, llm-jp-eval datasets) and each task against the
series' tokenizer, then records the run (``provenance.open_run``). Watch mode
starts from a plan without checkpoints and ``extend``s it as checkpoints appear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from ckptlens.checkpoints import Checkpoint, open_series, series_name, window_ends_in_last
from ckptlens.checkpoints.fingerprint import fingerprint
from ckptlens.checkpoints.loading import load_tokenizer, resolve_device
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.config import EvalConfig
from ckptlens.evaluation.in_memory import averaged_checkpoints, window_average_loader
from ckptlens.evaluation.provenance import open_run, source_info
from ckptlens.evaluation.request import EvalRequest
from ckptlens.evaluation.scoring import encode_example
from ckptlens.evaluation.units import Loader, check_unique_names
from ckptlens.store import Store
from ckptlens.store.representations import StateSettings
from ckptlens.tasks.llm_jp_eval import LlmJpEvalOptions
from ckptlens.tasks.lm_eval_index import LmEvalOptions
from ckptlens.tasks.resolve import default_tasks, resolve_tasks
from ckptlens.tasks.task import Task


@dataclass(frozen=True)
class Plan:
    """The units of one request: every checkpoint of ``checkpoints`` on every task of ``tasks``."""

    request: EvalRequest
    store: Store
    run: str
    tasks: tuple[Task, ...]
    config: EvalConfig
    checkpoints: tuple[Checkpoint, ...] = ()
    load: Loader | None = field(default=None, repr=False)  # None: read each checkpoint folder

    def units(self) -> list[tuple[Checkpoint, Task]]:
        return [(c, t) for c in self.checkpoints for t in self.tasks]


def build_plan(request: EvalRequest, prebuilt: Sequence[Task] = (), config: EvalConfig | None = None) -> Plan:
    """Check everything, resolve the tasks once and record the run; ``prebuilt`` tasks join the request's."""
    request.validate()
    if request.executor == "local":
        resolve_device(request.device)  # on Ray the workers' devices count, not this machine's
    config = config or eval_config(request)
    checkpoints, load = ((), None) if request.watch else _open(request, config)
    tasks = tuple(request_tasks(request)) if request.tasks or not prebuilt else ()
    plan = Plan(request, Store(request.store), run_name(request), (*tasks, *prebuilt), config, (), load)
    return extend(plan, checkpoints)[0] if checkpoints else plan


def extend(plan: Plan, checkpoints: Sequence[Checkpoint]) -> tuple[Plan, Plan]:
    """``plan`` with ``checkpoints`` added and the run's record updated; also the plan of those alone."""
    if not plan.checkpoints:
        validate_tasks(plan.tasks, checkpoints[0])
        check_layers(plan.config.representations, checkpoints[0])
    grown = replace(plan, checkpoints=(*plan.checkpoints, *checkpoints))
    request = plan.request
    info = source_info(request.series, list(grown.checkpoints), request.average_window)
    if request.size:
        info["n_params"] = request.size
    if not request.is_hub and not request.average_window:
        info["fingerprints"] = {c.name: fingerprint(c.path) for c in checkpoints}
    open_run(plan.store, plan.run, plan.tasks, info, request)
    return grown, replace(plan, checkpoints=tuple(checkpoints))


def eval_config(request: EvalRequest) -> EvalConfig:
    states = StateSettings(request.representation_layers or None, request.representation_dims,
                           request.representation_seed) if request.representations else None  # fmt: skip
    return EvalConfig(request.batch_size, request.device, request.dtype, request.allow_pickle, request.shard_size,
                      request.reevaluate, request.batch_tokens, representations=states)  # fmt: skip


def run_name(request: EvalRequest) -> str:
    window = request.average_window
    return (request.run or series_name(request.series)) + (f"-avg{window}" if window else "")


def request_tasks(request: EvalRequest) -> list[Task]:
    """The request's tasks (or the series' own when it names none), each resolved once."""
    local_dir = None if request.is_hub else Path(request.series)
    specs = list(request.tasks) or default_tasks(local_dir)
    lm_eval = LmEvalOptions(request.include_path, request.num_fewshot, request.limit, request.fewshot_seed,
                            request.apply_chat_template)  # fmt: skip
    return resolve_task_specs(specs, local_dir, lm_eval, _llm_jp_eval_options(request, specs))


def resolve_task_specs(
    specs: Sequence[str | Task], series_dir: str | Path | None = None, lm_eval: LmEvalOptions = LmEvalOptions(),
    llm_jp_eval: LlmJpEvalOptions = LlmJpEvalOptions(),
) -> list[Task]:
    """``specs`` as tasks: names resolved together, once (``tasks.resolve.resolve_tasks``), built tasks kept.

    Built-in names are the demo world's tasks, registered here, when they are used.
    """
    from ckptlens.world import register_tasks

    register_tasks()
    names = [s for s in specs if isinstance(s, str)]
    built = [s for s in specs if isinstance(s, Task)]
    return (resolve_tasks(names, series_dir, lm_eval, llm_jp_eval) if names else []) + built


def validate_tasks(tasks: Sequence[Task], first: Checkpoint) -> None:
    """Check every task against the series' tokenizer before anything is written to the store.

    Task files are checked when loaded; what only the tokenizer can tell (a choice that
    encodes to no tokens) would otherwise stop the run after some units were stored.
    lm-eval's tasks hold their choices in lm-eval's requests, which lm-eval built and checked.
    """
    check_unique_names(tasks)
    tokenizer = load_tokenizer(first.path)
    for task in tasks:
        if task.kind != "multiple_choice" or task.lm_eval is not None:
            continue
        for example in task.examples:
            try:
                encode_example(tokenizer, example)
            except CkptlensError as err:
                raise CkptlensError(f"task {task.name!r}: {err}") from None


def check_layers(settings: StateSettings | None, first: Checkpoint) -> None:
    """``--layers`` against the series' model, before the run is recorded."""
    if settings is not None:
        from transformers import AutoConfig

        settings.resolve(AutoConfig.from_pretrained(first.path).get_text_config().num_hidden_layers,
                         "--layers")  # fmt: skip


def _llm_jp_eval_options(request: EvalRequest, specs: Sequence[str]) -> LlmJpEvalOptions:
    """``--split``, ``--num-fewshot`` (llm-jp-eval's 4 when not given), ``--limit`` (a count), ``--comet-model``."""
    limit = request.limit
    if limit is not None and any(s.startswith("llm-jp-eval:") for s in specs) and limit != int(limit):
        raise CkptlensError(f"--limit {limit}: llm-jp-eval tasks take a whole number of samples")
    return LlmJpEvalOptions(request.split, 4 if request.num_fewshot is None else request.num_fewshot,
                            None if limit is None else int(limit), comet_model=request.comet_model)  # fmt: skip


def _open(request: EvalRequest, config: EvalConfig) -> tuple[list[Checkpoint], Loader | None]:
    """The series' checkpoints kept by the filters; with ``--average-window`` those ending a window, and their
    loader (the averages are computed in memory)."""
    window = request.average_window
    source = open_series(request.series, request.steps, None if window else request.last, request.allow_pickle,
                         request.skip_incomplete)  # fmt: skip
    if not window:
        return source, None
    steps = None if request.last is None else window_ends_in_last(source, window, request.last)
    return averaged_checkpoints(source, window, steps), window_average_loader(source, window, config, steps)
