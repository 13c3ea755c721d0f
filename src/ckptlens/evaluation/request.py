"""One evaluation request: everything ``ckptlens eval`` is asked to do, checked all at once before any work.

An ``EvalRequest`` is plain data (strings, numbers, tuples), built ``from_cli`` or
``from_yaml`` (``ckptlens eval --config eval.yaml``, for teams that keep their
evaluation in a file), and written into the store's ``runs/<run>.json`` with the
library versions, so every record can be traced to how it was made.
``problems()`` lists every inconsistency at once and ``validate()`` raises them
together as one ``CkptlensError``; nothing here imports torch, so a mistyped
series path or flag fails in a fraction of a second.

Which fields define a run's results (``RESULT_FIELDS``): those that change the
number stored for an example already in the run. The precision and the prompts'
options do (``dtype``, the lm-eval and llm-jp-eval options). Fields that only choose
*which* units run (``steps``, ``last``, ``tasks``: a run may grow), *how* or *where*
they run (batching, device, executor, sharding, watch options; batching does not
change results) do not. The hidden states ``--representations`` keeps, and how
(``representation_layers``, ``_dims``, ``_seed``), are result fields too: a run keeps
one kind of states or none, and an older run's request without them counts as
evaluated without. A second evaluation under one run name that differs in a
result field is an error naming the fields (``differing_fields``).

>>> request = EvalRequest(series="runs/no-such-series", tasks=("facts",), batch_size=0, dtype="float8")
>>> for problem in request.problems():
...     print(problem)
series folder not found: runs/no-such-series
--batch-size must be at least 1, got 0
--dtype 'float8': use one of float32, bfloat16, float16
>>> differing_fields({"dtype": "float32", "steps": "10"}, {"dtype": "bfloat16", "steps": "20"})
['dtype']
>>> differing_fields({"dtype": "float32"}, {"dtype": "float32", "representations": True})
['representations']
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import yaml

from ckptlens.checkpoints.hub import is_hub_spec
from ckptlens.checkpoints.select import parse_fraction, parse_step_range
from ckptlens.errors import CkptlensError
from ckptlens.files import read_text

DTYPES = ("float32", "bfloat16", "float16")
EXECUTORS = ("local", "ray")
SPLITS = ("dev", "test")
DEFAULT_FEWSHOT_SEED = 1234  # lm_eval's --fewshot_random_seed default (tasks.lm_eval_index imports lm-eval's stack)
# The states --representations keeps: absent from an older run's request means not kept.
REPRESENTATION_DEFAULTS = {"representations": False, "representation_layers": [], "representation_dims": 256,
                           "representation_seed": 0}  # fmt: skip
RESULT_FIELDS = ("dtype", "average_window", "num_fewshot", "limit", "fewshot_seed", "apply_chat_template", "split",
                 "comet_model", *REPRESENTATION_DEFAULTS)  # fmt: skip
WATCH_ONLY = ("watch_timeout", "complete_marker", "report")


@dataclass(frozen=True)
class EvalRequest:
    """What to evaluate, where the records go, and how it runs (the flags of ``ckptlens eval``)."""

    series: str  # folder of checkpoint folders, or hf://org/name
    tasks: tuple[str, ...] = ()  # task files, built-in names, lm-eval:NAME, llm-jp-eval:DIR; () = the series' own
    store: str = "store"
    run: str | None = None  # default: the series folder's name (+ -avg<n> for --average-window n)
    steps: str | None = None  # start:stop:every (stop included) or 100,200
    last: float | None = None  # only the final fraction of training (with --watch: the report's window)
    average_window: int | None = None  # evaluate trailing-window averages of n checkpoints, held in memory
    skip_incomplete: bool = False  # leave out checkpoint folders without config.json
    size: int | None = None  # the model's size in parameters, for by-size analyses
    batch_size: int = 32  # sequences per forward pass, at most
    batch_tokens: int | None = None  # multiple choice: tokens per pass (None: by device)
    device: str | None = None  # None: CUDA when present
    dtype: str = "float32"
    allow_pickle: bool = False  # load pytorch_model.bin (trusted folders only)
    shard_size: int | None = None  # split tasks larger than this into shards, each stored when done
    reevaluate: bool = False  # replace stored units whose task prompts changed
    relink: bool = False  # re-point the run at this (moved) series when its checkpoints' hashes match
    executor: str = "local"  # local | ray
    address: str | None = None  # Ray: auto, ray://host:10001 (default: a local cluster)
    max_retries: int | None = None  # Ray: re-runs of a piece whose worker died (default 3)
    watch: bool = False  # keep polling; evaluate each new checkpoint once complete
    poll_seconds: float = 30.0
    watch_timeout: float | None = None
    complete_marker: str | None = None
    report: str | None = None  # with --watch: refresh this report folder after each checkpoint
    include_path: tuple[str, ...] = ()  # lm-eval: folders of task YAMLs
    num_fewshot: int | None = None  # lm-eval: the YAML's own when None; llm-jp-eval: 4
    limit: float | None = None  # first N documents per task (lm-eval: below 1, a fraction)
    fewshot_seed: int = DEFAULT_FEWSHOT_SEED
    apply_chat_template: bool = False
    split: str = "dev"  # llm-jp-eval: dev or test
    comet_model: str | None = None  # llm-jp-eval MT: a local COMET model
    representations: bool = False  # also keep each prompt's hidden states, from the scoring passes
    representation_layers: tuple[int, ...] = ()  # () = the middle and last block; 0 is the embeddings
    representation_dims: int = 256  # features kept per layer (a fixed random projection above)
    representation_seed: int = 0  # seed of that projection
    extra: dict = field(default_factory=dict, compare=False, repr=False)  # unknown keys (a problem)

    @classmethod
    def from_cli(cls, series: str | Path | None, tasks: list[str] | None = None, **values) -> EvalRequest:
        """A request from parsed flags: ``--tasks a,b c`` split on commas, sizes like ``1.8b`` parsed."""
        names = tuple(n for spec in tasks or () for n in str(spec).split(",") if n)
        return cls(series="" if series is None else str(series), tasks=names, **_normalised(values))

    @classmethod
    def from_yaml(cls, path: str | Path, **overrides) -> EvalRequest:
        """A request from a YAML mapping of field names (``batch_size`` or ``batch-size``); ``overrides``
        (the flags given on the command line) win over the file's values."""
        data = _read_yaml(Path(path))
        if not isinstance(data, dict):
            raise CkptlensError(f"--config {path}: give a YAML mapping of eval options, e.g. `series: runs/demo`")
        values = {str(k).replace("-", "_"): v for k, v in data.items()}
        values.update({k: v for k, v in overrides.items() if k != "tasks" or v})
        tasks = values.pop("tasks", None)
        tasks = [tasks] if isinstance(tasks, str) else tasks
        known = {f.name for f in fields(cls)} - {"extra"}
        extra = {k: values.pop(k) for k in list(values) if k not in known}
        if "series" not in values:
            raise CkptlensError(f"--config {path}: no series; add `series: PATH` or name it on the command line")
        return cls.from_cli(values.pop("series"), tasks, **values, extra=extra)

    def problems(self) -> list[str]:
        """Every inconsistency of the request, each as a short sentence naming the flag."""
        return [p for check in _CHECKS for p in check(self)]

    def validate(self) -> EvalRequest:
        """The request itself once it has no problem; else one ``CkptlensError`` listing them all."""
        found = self.problems()
        if len(found) == 1:
            raise CkptlensError(found[0])
        if found:
            raise CkptlensError(f"{len(found)} problems: " + "; ".join(f"({i}) {p}" for i, p in enumerate(found, 1)))
        return self

    def to_dict(self) -> dict:
        """The request as JSON-ready data (what ``runs/<run>.json`` keeps under ``request``)."""
        data = asdict(self)
        data.pop("extra")
        return {k: list(v) if isinstance(v, tuple) else v for k, v in data.items()}

    @property
    def is_hub(self) -> bool:
        return is_hub_spec(self.series)


def differing_fields(stored: dict, new: dict) -> list[str]:
    """The ``RESULT_FIELDS`` on which two requests (``to_dict`` forms) disagree; fields absent from ``stored`` (an
    older store) are not compared, but for the representation fields (absent: no states kept)."""
    if not stored:
        return []
    default = REPRESENTATION_DEFAULTS.get
    return [name for name in RESULT_FIELDS if (name in stored or name in REPRESENTATION_DEFAULTS)
            and stored.get(name, default(name)) != new.get(name, default(name))]  # fmt: skip


def parse_size(text: str | int | None) -> int | None:
    """``--size``: ``1.8b`` -> 1,800,000,000, ``410m``, or a plain count; None when not given.

    >>> parse_size("1.8b"), parse_size("410m"), parse_size(7)
    (1800000000, 410000000, 7)
    """
    if text is None or isinstance(text, int):
        return text
    unit = {"k": 10**3, "m": 10**6, "b": 10**9}.get(text[-1:].lower(), 1)
    try:
        value = float(text[:-1] if unit > 1 else text)
    except ValueError:
        raise CkptlensError(f"--size {text!r}: give a count or a size like 1.8b or 410m") from None
    return round(value * unit)


def _read_yaml(path: Path) -> object:
    if not path.is_file():
        raise CkptlensError(f"--config {path}: no such file; write the eval options there as YAML")
    try:
        return yaml.safe_load(read_text(path))
    except yaml.YAMLError as err:
        raise CkptlensError(f"--config {path} is not valid YAML ({' '.join(str(err).split())})") from None


def _normalised(values: dict) -> dict:
    """Flag values as request fields: enums by value, paths as strings, lists as tuples."""
    out = {}
    for key, value in values.items():
        value = getattr(value, "value", value)
        if isinstance(value, Path):
            value = str(value)
        if isinstance(value, list):
            value = tuple(str(v) for v in value)
        out[key] = value
    if out.get("include_path", ()) is None:
        out["include_path"] = ()
    if "size" in out:
        out["size"] = parse_size(out["size"])
    if out.get("last") is not None:
        out["last"] = parse_fraction(out["last"])
    if "representation_layers" in out:
        out["representation_layers"] = parse_layers(out["representation_layers"])
    return out


def parse_layers(value: str | int | tuple | None) -> tuple[int, ...]:
    """``--representation-layers``: ``"2,4"``, a YAML list, or nothing (the default layers).

    >>> parse_layers("2,4"), parse_layers(("0", "3")), parse_layers(None)
    ((2, 4), (0, 3), ())
    """
    items = value.split(",") if isinstance(value, str) else [value] if isinstance(value, int) else value or ()
    try:
        return tuple(int(x) for x in items if str(x).strip())
    except ValueError:
        raise CkptlensError(f"--representation-layers takes comma-separated integers, got {value!r}") from None


def _series(r: EvalRequest) -> list[str]:
    if not r.series:
        return ["no series given: name a folder of checkpoint folders, or hf://org/name"]
    if r.is_hub:
        return []
    path = Path(r.series)
    if not path.exists():
        hint = "; create it or point --watch at the run's output" if r.watch else ""
        return [f"series folder not found: {path}{hint}"]
    return [] if path.is_dir() else [f"series {path} is a file, not a folder of checkpoint folders"]


def _counts(r: EvalRequest) -> list[str]:
    found = []
    for flag, value, least in (("--batch-size", r.batch_size, 1), ("--batch-tokens", r.batch_tokens, 1),
                               ("--shard-size", r.shard_size, 1), ("--average-window", r.average_window, 1),
                               ("--max-retries", r.max_retries, 0)):  # fmt: skip
        if value is not None and (not isinstance(value, int) or value < least):
            kind = "must not be negative" if least == 0 else f"must be at least {least}"
            found.append(f"{flag} {kind}, got {value}")
    if r.dtype not in DTYPES:
        found.append(f"--dtype {r.dtype!r}: use one of {', '.join(DTYPES)}")
    if r.split not in SPLITS:
        found.append(f"--split {r.split!r}: use dev or test")
    return found


def _filters(r: EvalRequest) -> list[str]:
    found = []
    if r.steps is not None:
        try:
            parse_step_range(r.steps)
        except CkptlensError as err:
            found.append(str(err))
    if r.last is not None and not 0 < r.last <= 1:
        found.append(f"--last {r.last}: give a fraction in (0, 1], e.g. 0.2 or 20%")
    return found


def _executor(r: EvalRequest) -> list[str]:
    if r.executor not in EXECUTORS:
        return [f"--executor {r.executor!r}: use local or ray"]
    if r.executor == "local":
        given = r.address is not None or r.max_retries is not None
        return ["--address and --max-retries need --executor ray"] if given else []
    found = ["--watch runs the local executor; run `--executor ray` beside it on the same --store"] if r.watch else []
    if r.average_window:
        found.append("--average-window keeps a running sum in one process and cannot run on Ray; "
                     "write the averages with `ckptlens average` and evaluate that folder")
    return found


def _watch(r: EvalRequest) -> list[str]:
    if r.poll_seconds <= 0 or (r.watch_timeout is not None and r.watch_timeout < 0):
        return ["--poll-seconds must be positive and --watch-timeout not negative"]
    if (r.watch and (r.steps is not None or r.average_window is not None)) or (
        not r.watch and any(getattr(r, name) is not None for name in WATCH_ONLY)
    ):
        return ["--watch evaluates every new checkpoint, so it takes no --steps or --average-window; "
                "--watch-timeout, --complete-marker and --report need --watch"]
    if r.watch and r.last is not None and r.report is None:
        return ["with --watch, --last sets the stability window of the --report it refreshes "
                "(every new checkpoint is evaluated): add --report DIR"]
    return []


def _options(r: EvalRequest) -> list[str]:
    found = [f"unknown option {k!r} in the request" for k in r.extra]
    if r.apply_chat_template and any(t.startswith("lm-eval:") for t in r.tasks):
        found.append("--apply-chat-template is not supported: ckptlens scores the plain prompts lm-eval builds; run "
                     "lm_eval itself for chat templates and `ckptlens import lm-eval` its samples")
    if r.watch and r.relink:
        found.append("--relink re-points a run at a moved series once; run it without --watch")
    return found + _representation_options(r)


def _representation_options(r: EvalRequest) -> list[str]:
    given = r.representation_layers or (r.representation_dims, r.representation_seed) != (256, 0)
    if given and not r.representations:
        return ["--representation-layers, --representation-dims and --representation-seed need --representations"]
    dims = r.representation_dims
    found = [f"--representation-dims must be at least 1, got {dims}"] if dims < 1 else []
    if any(layer < 0 for layer in r.representation_layers):
        found.append(f"--representation-layers {list(r.representation_layers)}: layers count from 0 (the embeddings)")
    return found


_CHECKS = (_series, _counts, _filters, _executor, _watch, _options)
