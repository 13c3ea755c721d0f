"""lm-eval results JSON, both formats: 0.4.x (``"acc,none"`` keys) and the older one Pythia published.

A results file says which model and revision it evaluated and holds task-level
metrics; it becomes a ``ResultsFile``: the checkpoint's identity plus long-format
aggregate rows (task, metric, filter, value, stderr, num_fewshot), plus one ``n_samples`` row per task
when the file records its example count (0.4.x ``n-samples``). The format is
recognised from the metric keys: 0.4.x packs the filter into the key
(``"acc,none"``), the old format has bare names (``"acc"``).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from ckptlens.errors import CkptlensError
from ckptlens.importers import identity
from ckptlens.store import SAMPLE_COUNT

STDERR_SUFFIX = "_stderr"


@dataclass(frozen=True)
class ResultsFile:
    """One lm-eval results JSON: which checkpoint it is, and its task-level rows."""

    path: Path
    format: str  # "lm-eval-0.4" | "lm-eval-old"
    model: str | None
    checkpoint: str
    step: int
    tokens_seen: int | None
    num_fewshot: dict[str, int | None]  # per task
    rows: list[dict] = field(repr=False)  # task, metric, filter, value, stderr, num_fewshot, source
    dtype: str | None = None
    n_params: int | None = None
    task_hashes: dict[str, str] = field(default_factory=dict, repr=False)

    @property
    def tasks(self) -> list[str]:
        return sorted(self.num_fewshot)

    def shots(self) -> set[int]:
        """The few-shot counts of this file's tasks (unknown ones left out)."""
        return {n for n in self.num_fewshot.values() if n is not None}


def read_results(path: Path, step_from: re.Pattern | None) -> ResultsFile:
    """Parse one results JSON, either format; a file without a step is a one-line error naming ``--step-from``."""
    data = _load(path)
    config = data.get("config") or {}
    args = identity.model_args_dict(config.get("model_args"))
    model = identity.model_name(args, data.get("model_name"))
    pretrained = args.get("pretrained")
    revisions = [args.get("revision"), config.get("model_revision"), data.get("model_revision"),
                 Path(pretrained).name if pretrained else None]
    checkpoint, step = identity.step_of(revisions, str(path), step_from)
    new_format = any("," in key for metrics in data["results"].values() for key in metrics)
    shots = _fewshot_new(data) if new_format else _fewshot_old(data, config)
    return ResultsFile(
        path=path,
        format="lm-eval-0.4" if new_format else "lm-eval-old",
        model=model,
        checkpoint=checkpoint,
        step=step,
        tokens_seen=identity.tokens_seen(checkpoint, step, model),
        num_fewshot=shots,
        rows=_aggregate_rows(data["results"], shots, str(path), new_format)
        + _sample_count_rows(data.get("n-samples"), shots, str(path)),
        dtype=_dtype(config.get("model_dtype")),
        n_params=config.get("model_num_parameters") or identity.nominal_params(model),
        task_hashes=data.get("task_hashes") or {},
    )


def _load(path: Path) -> dict:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise CkptlensError(f"cannot read lm-eval results {path}: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("results"), dict):
        raise CkptlensError(f"{path} is not an lm-eval results file: expected a 'results' mapping of task -> metrics")
    odd = [task for task, metrics in data["results"].items() if not isinstance(metrics, dict)]
    if odd:
        raise CkptlensError(f"{path}: results of task {odd[0]!r} are not a mapping of metric -> value; "
                            "not an lm-eval results file")
    _refuse_non_finite(data["results"], path)
    return data


def _refuse_non_finite(results: dict, path: Path) -> None:
    """A NaN or infinite score is refused, never skipped: dropped, the task would look not evaluated.

    Standard errors are exempt: lm-eval cannot always compute one and writes "N/A" (or NaN) for it.
    """
    for task, metrics in results.items():
        for key, value in metrics.items():
            is_stderr = key.split(",")[0].endswith(STDERR_SUFFIX)
            if isinstance(value, float) and not math.isfinite(value) and not is_stderr:
                raise CkptlensError(f"{path}: field results.{task}.{key} should be a finite number (got {value}); "
                                    "rerun lm-eval for that task, or remove the task from the file")


def _fewshot_new(data: dict) -> dict[str, int | None]:
    n_shot = data.get("n-shot") or {}
    configs = data.get("configs") or {}
    return {
        task: _int_or_none(n_shot.get(task, (configs.get(task) or {}).get("num_fewshot")))
        for task in data["results"]
    }


def _fewshot_old(data: dict, config: dict) -> dict[str, int | None]:
    return {task: _int_or_none(config.get("num_fewshot")) for task in data["results"]}


def _aggregate_rows(results: dict, shots: dict, source: str, new_format: bool) -> list[dict]:
    rows = []
    for task, metrics in results.items():
        values = {_split_key(key, new_format): v for key, v in metrics.items() if _is_number(v)}
        for (metric, filter_name), value in values.items():
            if metric is None or metric.endswith(STDERR_SUFFIX):
                continue
            stderr = values.get((metric + STDERR_SUFFIX, filter_name))
            rows.append({
                "task": task, "metric": metric, "filter": filter_name, "value": float(value),
                "stderr": None if stderr is None else float(stderr), "num_fewshot": shots.get(task), "source": source,
            })
    return rows


def _sample_count_rows(counts, shots: dict, source: str) -> list[dict]:
    """lm-eval 0.4's ``n-samples`` ({task: {"original": N, "effective": M}}) as ``SAMPLE_COUNT`` rows.

    The effective count (after ``--limit``) is what the scores were computed on; near-chance checks use it.
    """
    rows = []
    for task, count in (counts if isinstance(counts, dict) else {}).items():
        n = count.get("effective", count.get("original")) if isinstance(count, dict) else count
        if _is_number(n) and n > 0:
            rows.append({"task": task, "metric": SAMPLE_COUNT, "filter": None, "value": float(n), "stderr": None,
                         "num_fewshot": shots.get(task), "source": source})
    return rows


def _split_key(key: str, new_format: bool) -> tuple[str | None, str | None]:
    """``"acc,none"`` -> (acc, none) in 0.4.x; ``"acc"`` -> (acc, None) in the old format."""
    if not new_format:
        return key, None
    if "," not in key:
        return None, None  # alias, name, sample_len: not metrics
    metric, filter_name = key.split(",", 1)
    return metric, filter_name


def _is_number(value) -> bool:
    """Numbers only: lm-eval writes "N/A" for a missing stderr."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _int_or_none(value) -> int | None:
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _dtype(value: str | None) -> str | None:
    return value.removeprefix("torch.") if value else None
