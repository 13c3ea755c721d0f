"""lm-evaluation-harness's own tasks (``--tasks lm-eval:NAME``), built by lm-eval itself.

lm-eval's ``TaskManager`` resolves NAME (a task, tag, group or YAML path, plus
the ``--include-path`` folders) and its ``build_all_requests`` writes the
prompts, so every config feature (``include``, ``process_docs`` / ``!function``,
Jinja templates, descriptions, samplers, filters, ``generation_kwargs``) is
lm-eval's own. ckptlens only reads what was built: each lm-eval document
becomes an ``Example`` (id = ``doc_id``, context = its first request's prompt,
whose SHA-256 is the ``prompt_hash`` of ``--log_samples``) and the ``Task``
carries lm-eval's task and requests for the engine (``evaluation.lm_eval_requests``).
The requests are built once per command and reused for every checkpoint.

Options follow ``lm_eval``: ``num_fewshot`` overrides the YAML's own value
(unless the YAML pins 0), ``limit`` keeps the first N documents (a fraction
below 1 keeps that share), and the few-shot sampler is seeded with
``fewshot_seed``, 1234 by default as in ``lm_eval``, so the same demonstrations
are drawn for every checkpoint and native records line up with imported ones.
Datasets are read offline while lm-eval indexes and builds the tasks
(``datasets_offline``: ``HF_DATASETS_OFFLINE=1`` and ``datasets``' own switches,
restored afterwards, so the rest of the process is untouched): a task whose data
is not on this machine is a one-line error saying which ``dataset_kwargs`` to set.
"""

from __future__ import annotations

import difflib
import logging
import math
import os
from collections import defaultdict
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ckptlens.errors import CkptlensError
from ckptlens.tasks.task import Example, Task, TaskKind

LM_EVAL_PREFIX = "lm-eval:"
DEFAULT_FEWSHOT_SEED = 1234  # lm_eval's --fewshot_random_seed default: the same demonstrations as lm_eval draws
INSTALL_HINT = "pip install 'ckptlens[lm-eval]'"
KINDS: dict[str, TaskKind] = {
    "multiple_choice": "multiple_choice",
    "loglikelihood": "generation",  # one continuation, judged by is-greedy (lambada-style)
    "generate_until": "generation",
    "loglikelihood_rolling": "perplexity",
}


@dataclass(frozen=True)
class LmEvalOptions:
    """The lm-eval flags of ``ckptlens eval``: --include-path, --num-fewshot, --limit, --fewshot-seed."""

    include_paths: tuple[str, ...] = ()
    num_fewshot: int | None = None  # None: the YAML's own value (0 when it has none)
    limit: float | None = None  # first N documents per task; below 1: that fraction
    fewshot_seed: int = DEFAULT_FEWSHOT_SEED
    apply_chat_template: bool = False  # not supported: ckptlens scores plain prompts

    def __post_init__(self) -> None:
        if self.limit is not None and not (math.isfinite(self.limit) and self.limit > 0):
            raise CkptlensError(f"--limit {self.limit:g}: give a number of documents (1 or more) or a fraction "
                                "between 0 and 1; leave it out for every document")
        if self.num_fewshot is not None and self.num_fewshot < 0:
            raise CkptlensError(f"--num-fewshot {self.num_fewshot}: give 0 or more demonstrations per prompt")


@dataclass(eq=False)
class LmEvalTask:
    """lm-eval's built task with its requests grouped by document: what the engine scores and lm-eval judges."""

    task: object  # lm_eval.api.task.Task, with its instances built
    instances: dict[int, list] = field(repr=False)  # doc_id -> that document's Instances, in request order
    docs: dict[int, dict] = field(repr=False)  # doc_id -> the (processed) document
    version: str | None = None
    metric_names: tuple[str, ...] = ()  # metric_list order: the first is the task's default metric
    groups: tuple[dict, ...] = ()  # the groups holding the task, outermost first (store.records.GROUP_LEVEL rows)


def is_lm_eval_spec(spec: str) -> bool:
    return spec.startswith(LM_EVAL_PREFIX)


def build_lm_eval_tasks(names: Sequence[str], options: LmEvalOptions = LmEvalOptions()) -> list[Task]:
    """One ``Task`` per lm-eval leaf task that ``names`` (without the ``lm-eval:`` prefix) resolve to.

    ``build_lm_eval_tasks(["arc_easy"], LmEvalOptions(include_paths=("examples/lm_eval",)))`` gives
    ``[Task(name='arc_easy', kind='multiple_choice', ...)]`` with lm-eval installed
    (``tests/tasks/test_lm_eval_index.py``). What ckptlens cannot do is refused before lm-eval is imported:

    >>> build_lm_eval_tasks(["arc_easy"], LmEvalOptions(apply_chat_template=True))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: --apply-chat-template is not supported: ...
    """
    if options.apply_chat_template:
        raise CkptlensError("--apply-chat-template is not supported: ckptlens scores the plain prompts lm-eval "
                            "builds; run lm_eval itself for chat templates and `ckptlens import lm-eval` its samples")
    manager = task_manager(options.include_paths)
    for name in names:
        _check_known(manager, name)
    with _quiet_lm_eval(), datasets_offline():
        loaded = _load(manager, list(names))
        groups, group_map = loaded.get("groups", {}), loaded.get("group_map", {})
        categories = _categories(groups, group_map)
        return [_build(name, task, categories.get(name, "lm-eval"), options, group_levels(name, groups, group_map))
                for name, task in loaded["tasks"].items()]


@contextmanager
def _quiet_lm_eval():
    """lm-eval's own warnings while building (an include-path task overriding its original is the point here),
    and the progress bars of ``datasets`` reading a split: a failed build then leaves its error line alone."""
    from datasets.utils import logging as datasets_logging

    logger = logging.getLogger("lm_eval")
    level, bars = logger.level, datasets_logging.is_progress_bar_enabled()
    logger.setLevel(logging.ERROR)
    datasets_logging.disable_progress_bar()
    try:
        yield
    finally:
        logger.setLevel(level)
        if bars:
            datasets_logging.enable_progress_bar()


def task_manager(include_paths: Sequence[str]):
    """lm-eval's ``TaskManager`` over its own tasks and ``include_paths`` (indexing takes seconds: built once)."""
    for folder in include_paths:
        if not Path(folder).is_dir():
            raise CkptlensError(f"--include-path {folder}: no such folder; give a folder of lm-eval task YAMLs")
    return _cached_manager(tuple(str(Path(p).resolve()) for p in include_paths))


_MANAGERS: dict[tuple[str, ...], object] = {}


def _cached_manager(include_paths: tuple[str, ...]):
    if include_paths not in _MANAGERS:
        TaskManager = _lm_eval_task_manager_class()
        with _quiet_lm_eval(), datasets_offline():
            _MANAGERS[include_paths] = TaskManager(include_path=list(include_paths) or None)
    return _MANAGERS[include_paths]


def _lm_eval_task_manager_class():
    """lm-eval's TaskManager; a one-line error when lm-eval is missing."""
    try:
        from lm_eval.tasks import TaskManager
    except ImportError:
        raise CkptlensError(f"lm-eval: tasks need lm-evaluation-harness; install it with {INSTALL_HINT}") from None
    return TaskManager


OFFLINE_SWITCHES = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")


@contextmanager
def datasets_offline():
    """Within the block, ``datasets`` reads only local files: the environment variable and ``datasets.config``'s
    switches (read at call time, even when ``datasets`` was imported before) are set, then restored."""
    import datasets.config

    saved_env = os.environ.get("HF_DATASETS_OFFLINE")
    saved = {name: getattr(datasets.config, name) for name in OFFLINE_SWITCHES}
    os.environ["HF_DATASETS_OFFLINE"] = "1"
    for name in OFFLINE_SWITCHES:
        setattr(datasets.config, name, True)
    try:
        yield
    finally:
        for name, value in saved.items():
            setattr(datasets.config, name, value)
        if saved_env is None:
            os.environ.pop("HF_DATASETS_OFFLINE", None)
        else:
            os.environ["HF_DATASETS_OFFLINE"] = saved_env


def _check_known(manager, name: str) -> None:
    if name in manager.all_tasks or Path(name).is_file():
        return
    close = difflib.get_close_matches(name, manager.all_tasks, n=5, cutoff=0.6)
    hint = f"closest lm-eval names: {', '.join(close)}" if close else "see `lm_eval ls tasks`"
    raise CkptlensError(f"unknown lm-eval task {name!r}; {hint} (or add its folder with --include-path)")


def _load(manager, names: list[str]) -> dict:
    """``manager.load``; a dataset that is not on this machine is a one-line error naming the override."""
    import yaml

    try:
        return manager.load(names)
    except yaml.YAMLError as error:
        raise yaml_error(error) from None
    except IndexError as error:  # lm-eval's Task reads its first document when it is made
        if "size 0" not in str(error):
            raise
        raise CkptlensError(f"lm-eval {', '.join(names)}: a task has no documents to evaluate (its split is empty, "
                            "or its process_docs keeps none); check its dataset and process_docs") from None
    except (ConnectionError, OSError, ValueError, FileNotFoundError) as error:
        if "offline" not in str(error).lower() and "couldn't find" not in str(error).lower():
            raise
        dataset, yaml_path = _dataset_of(manager, names, error)
        raise CkptlensError(
            f"lm-eval task data {dataset} is not available offline; add an --include-path folder with a YAML that "
            f"has `include: {yaml_path}`, the same `task:` name, `dataset_path: json` and "
            "`dataset_kwargs: {data_files: {test: ..., validation: ..., train: ...}}` pointing at local files"
        ) from None


def yaml_error(error) -> CkptlensError:
    """A YAML file that does not parse, as one line: the file, the line and column, and what is wrong there."""
    mark = getattr(error, "problem_mark", None)
    where = "a task YAML" if mark is None else f"{mark.name}:{mark.line + 1}:{mark.column + 1}"
    problem = getattr(error, "problem", None) or str(error).splitlines()[0]
    return CkptlensError(f"{where}: not valid YAML ({problem}); fix the file")


def _dataset_of(manager, names: list[str], error: Exception) -> tuple[str, str]:
    """The dataset the failing task reads and its YAML, from the YAML for a plain task, else from the error."""
    from lm_eval.tasks._yaml_loader import load_yaml

    for name in names:
        entry = manager.task_index.get(name)
        if entry is not None and entry.yaml_path and str(entry.kind).endswith("TASK"):
            config = load_yaml(entry.yaml_path, resolve_func=False)
            if config.get("dataset_path"):
                subset = f" ({config['dataset_name']})" if config.get("dataset_name") else ""
                return repr(config["dataset_path"] + subset), str(entry.yaml_path)
    return f"({str(error).splitlines()[0][:200]})", "<the task's YAML>"


def _categories(groups: dict, group_map: dict[str, list[str]]) -> dict[str, str]:
    """Each leaf task's outermost group (``mmlu`` for ``mmlu_anatomy``): its ckptlens category."""
    children = {child for kids in group_map.values() for child in kids}
    category: dict[str, str] = {}
    for top in (g for g in group_map if g not in children):
        for task in groups[top].get_all_tasks():
            category.setdefault(task.task_name, top)
    return category


def group_levels(task: str, groups: dict, group_map: dict[str, list[str]]) -> tuple[dict, ...]:
    """Every group ``task`` belongs to, outermost first, with each one's aggregated metrics (``GROUP_LEVEL`` rows).

    lm-eval scores a group over all its leaf tasks (``Group.aggregate``), so a subgroup's own score and its
    parent's are both sums over leaf tasks: what a record needs is each group's name and aggregate_metric_list.
    """
    parents = {child: group for group, kids in group_map.items() for child in kids}
    path, node = [], task
    while node in parents and parents[node] not in path:
        node = parents[node]
        path.append(node)
    levels = []
    for name in reversed(path):
        configs = getattr(groups.get(name), "aggregate_metric_list", None) or [None]
        levels.extend(_level(name, config) for config in configs)
    return tuple(levels)


def _level(name: str, config) -> dict:
    if config is None:
        return {"name": name, "metric": None, "weight_by_size": None, "filters": None}
    filters = config.filter_list
    return {"name": name, "metric": config.metric, "weight_by_size": bool(config.weight_by_size),
            "filters": None if filters is None else [filters] if isinstance(filters, str) else list(filters)}


def _build(name: str, task, category: str, options: LmEvalOptions, groups: tuple[dict, ...] = ()) -> Task:
    """Configure ``task`` as ``lm_eval`` would, build its requests, and wrap them as a ckptlens Task."""
    from lm_eval.evaluator_utils import get_sample_size

    _configure(task, options)
    try:
        task.build_all_requests(limit=get_sample_size(task, options.limit))
    except ValueError as error:
        if "did not find any docs" not in str(error):
            raise
        raise CkptlensError(f"lm-eval task {name} has no documents to evaluate (its split is empty, or its "
                            "process_docs keeps none); check its dataset and process_docs") from None
    by_doc: dict[int, list] = defaultdict(list)
    for instance in task.instances:
        by_doc[instance.doc_id].append(instance)
    for requests in by_doc.values():
        requests.sort(key=lambda r: r.idx)
    output_type = task.get_config("output_type")
    examples = tuple(Example(str(doc_id), requests[0].arguments[0]) for doc_id, requests in sorted(by_doc.items()))
    source = LmEvalTask(
        task=task, instances=dict(by_doc), docs={doc_id: r[0].doc for doc_id, r in by_doc.items()},
        version=None if task.VERSION is None else str(task.VERSION),
        metric_names=tuple(m["metric"] for m in task.config.metric_list or () if isinstance(m.get("metric"), str)),
        groups=groups,
    )
    return Task(name=name, kind=KINDS[output_type], examples=examples, category=category,
                description=task.config.description or "", lm_eval=source)


def _configure(task, options: LmEvalOptions) -> None:
    """``--num-fewshot`` and the few-shot seed, exactly as ``lm_eval.simple_evaluate`` applies them."""
    own = task.get_config("num_fewshot")
    if options.num_fewshot is not None and own != 0:
        task.set_config(key="num_fewshot", value=options.num_fewshot)
    elif own is None:
        task.set_config(key="num_fewshot", value=0)
    task.set_fewshot_seed(seed=options.fewshot_seed)


def resolve_lm_eval(specs: Sequence[str], options: LmEvalOptions = LmEvalOptions()) -> list[str | Task]:
    """``specs`` with every ``lm-eval:NAME`` replaced by its built tasks (loaded together, once); others kept."""
    names = [s[len(LM_EVAL_PREFIX) :] for s in specs if is_lm_eval_spec(s)]
    if not names:
        return list(specs)
    if any(not n for n in names):
        raise CkptlensError("--tasks lm-eval: needs a name, e.g. lm-eval:arc_easy or lm-eval:mmlu")
    built = build_lm_eval_tasks(names, options)
    return [s for s in specs if not is_lm_eval_spec(s)] + list(built)
