"""``import_llm_jp_eval``: llm-jp-eval result files, one per checkpoint, into a ckptlens store.

A result file (llm-jp-eval's ``--result_logfile`` JSON) holds ``scores`` (per dataset and category) and
``outputs``: per dataset a list of ``{"input", "pred", "gold", ...}``. ckptlens recomputes every example's
metrics from ``pred`` and ``gold`` with :mod:`ckptlens.tasks.metrics` (the dataset's category metric first; MT:
COMET from ``input``, ``pred`` and ``gold`` when its model is here, ``comet_model``, else BLEU), so example MTV
and the instability score exist for imported runs too; the file's ``scores`` become task-level
aggregates. The run and step come from the model (``config.model.pretrained_model_name_or_path``), the W&B run
name or the file path: a step the name spells (``step1000``, ``checkpoint-500``, ``iter_0001000``), else
``--step-from REGEX`` whose first group is the step.

``import_llm_jp_eval(["results/"], Store("store"), step_from=r"iter_(\\d+)")`` imports every result file
under ``results/`` (``tests/importers/test_llm_jp_eval.py`` writes such files). A folder without any is an error:

>>> import pathlib
>>> pathlib.Path("results").mkdir()
>>> import_llm_jp_eval(["results/"], Store("store"))  # doctest: +ELLIPSIS
Traceback (most recent call last):
ckptlens.errors.CkptlensError: ...
"""

from __future__ import annotations

import json
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from ckptlens.checkpoints.series import parse_step
from ckptlens.errors import CkptlensError
from ckptlens.files import read_json, validated
from ckptlens.importers import identity
from ckptlens.store import Store, aggregates_table, records_table
from ckptlens.tasks.llm_jp_eval import (
    DEFAULT_TEMPLATE,
    Scoring,
    dataset_category,
    dataset_metric,
    dataset_score,
    dataset_scoring,
    nfkc,
)
from ckptlens.tasks.metrics import first_paragraph_nfkc, score_examples

SOURCE = "llm-jp-eval"
FIX = "correct it, or import the file llm-jp-eval wrote"
SCORE_TOLERANCE = 0.005  # llm-jp-eval rounds its scores; a larger gap means the file was scored differently


@dataclass(frozen=True)
class ResultFile:
    path: Path
    model: str
    run: str
    step: int
    scores: dict
    outputs: dict[str, list[dict]]


@dataclass(frozen=True)
class LlmJpEvalImport:
    runs: tuple[str, ...]
    checkpoints: int
    records: int


def import_llm_jp_eval(
    paths: Iterable[str | Path],
    store: Store | str | Path,
    run: str | None = None,
    step_from: str | None = None,
    n_params: int | None = None,
    comet_model: str | None = None,
) -> LlmJpEvalImport:
    """Import every llm-jp-eval result file under ``paths``; all are read and checked before anything is written.

    ``comet_model``: the COMET model for MT datasets (``tasks.comet.locate_comet``), loaded once for all files.
    """
    store = store if isinstance(store, Store) else Store(store)
    pattern = _compile(step_from)
    files = [read_result_file(p, run, pattern) for p in find_result_files(paths)]
    datasets = sorted({d for f in files for d in f.outputs})
    scorings = {d: dataset_scoring(d, [dataset_metric(d)], comet_model) for d in datasets}
    for result in files:
        _check_sources(result, scorings)
    records = 0
    for result in files:
        checkpoint = f"step{result.step}"
        for dataset, outputs in sorted(result.outputs.items()):
            rows = _rows(result, checkpoint, dataset, outputs, scorings[dataset])
            _check_score(result, dataset, rows)
            store.write_unit(result.run, checkpoint, dataset, records_table(rows))
            records += len(rows)
        store.write_aggregates(result.run, checkpoint, aggregates_table(_aggregates(result, checkpoint)))
    for name in sorted({f.run for f in files}):
        size = n_params or identity.nominal_params(name)
        info = {k: v for k, v in store.run_info(name).items() if k != "run"}
        info.update({"source": SOURCE, "models": sorted({f.model for f in files if f.run == name})})
        store.write_run_info(name, {**info, "n_params": size} if size else info)
    return LlmJpEvalImport(tuple(sorted({f.run for f in files})), len(files), records)


def find_result_files(paths: Iterable[str | Path]) -> list[Path]:
    """JSON files given, or found under given folders, that hold llm-jp-eval ``outputs``."""
    found: list[Path] = []
    for path in map(Path, paths):
        if path.is_file():
            found.append(path)
        elif path.is_dir():
            found += [p for p in sorted(path.rglob("*.json")) if _looks_like_result(p)]
        else:
            raise CkptlensError(f"not found: {path}; give llm-jp-eval result files or folders holding them")
    if not found:
        raise CkptlensError(f"no llm-jp-eval result files (JSON with 'scores' and 'outputs') under {list(paths)}")
    return found


def read_result_file(path: Path, run: str | None, step_from: re.Pattern | None) -> ResultFile:
    """One result file, with its run and step; a file without a step is an error naming ``--step-from``."""
    data = _load(path)
    config = data.get("config") or {}
    model = str((config.get("model") or {}).get("pretrained_model_name_or_path") or path.stem)
    run_name = str((config.get("wandb") or {}).get("run_name") or "")
    step = _step([model, run_name, str(path)], step_from, path)
    return ResultFile(path, model, run or identity.default_run_name(model), step, data["scores"], data["outputs"])


class Output(BaseModel):
    """One example of a dataset's outputs: the model's prediction and the gold answer (COMET also reads ``input``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    pred: str
    gold: str
    input: str = ""


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    pretrained_model_name_or_path: str | None = None


class _Wandb(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow")
    run_name: str | None = None


class _Config(BaseModel):
    """The parts of llm-jp-eval's configuration that name the checkpoint."""

    model_config = ConfigDict(strict=True, extra="allow")
    model: _Model | None = None
    wandb: _Wandb | None = None


class Results(BaseModel):
    """A llm-jp-eval result file (``--result_logfile``), as ckptlens reads it: finite scores, text outputs."""

    model_config = ConfigDict(strict=True, extra="allow")
    scores: dict[str, Annotated[float, Field(allow_inf_nan=False)]]
    outputs: dict[str, list[Output]]
    config: _Config | None = None


def _load(path: Path) -> dict:
    """The result file, validated against ``Results``: a NaN score or a number where text belongs is one line."""
    data = read_json(path, FIX)
    if not _is_result(data):
        raise CkptlensError(f"{path}: not an llm-jp-eval result file (needs 'scores' and 'outputs' per dataset)")
    validated(Results, data, path, fix=FIX)
    return data


def _is_result(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("scores"), dict) and isinstance(data.get("outputs"), dict)


def _looks_like_result(path: Path) -> bool:
    try:
        return _is_result(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return False


def _step(names: list[str], step_from: re.Pattern | None, path: Path) -> int:
    if step_from is not None:
        for name in names:
            match = step_from.search(name)
            if match and match.groups() and (match.group(1) or "").isdigit():
                return int(match.group(1))
    for name in names:
        for part in reversed(Path(name).parts or [name]):
            if parse_step(part) is not None:
                return parse_step(part)
    raise CkptlensError(
        f"no training step for {path}: its model and run names spell none; pass --step-from REGEX whose first "
        "group is the step in the model name or file path, e.g. --step-from 'iter_(\\d+)'"
    )


def _compile(step_from: str | None) -> re.Pattern | None:
    if step_from is None:
        return None
    try:
        pattern = re.compile(step_from)
    except re.error as err:
        raise CkptlensError(f"--step-from {step_from!r} is not a regular expression: {err}") from None
    if pattern.groups < 1:
        raise CkptlensError(f"--step-from {step_from!r} needs a group around the step, e.g. 'step(\\d+)'")
    return pattern


def _rows(result: ResultFile, checkpoint: str, dataset: str, outputs: list[dict], scoring: Scoring) -> list[dict]:
    """One record per example, its metrics recomputed as llm-jp-eval computes them (COMET's source: ``input``)."""
    predictions = [first_paragraph_nfkc(str(o["pred"])) for o in outputs]
    golds = [nfkc(str(o["gold"])) for o in outputs]
    sources = [str(o.get("input", "")) for o in outputs]
    metrics = score_examples(scoring.metrics, predictions, golds, sources, scoring.comet_model)
    return [{
        "run": result.run, "checkpoint": checkpoint, "step": result.step, "task": dataset,
        "category": dataset_category(dataset), "kind": "generation", "example_id": str(index),
        "output": prediction, "target": gold, "correct": scores[scoring.metrics[0]] == 1.0,
        "score": scores[scoring.metrics[0]], "metrics": scores, "task_version": f"llm-jp-eval {DEFAULT_TEMPLATE}",
    } for index, (prediction, gold, scores) in enumerate(zip(predictions, golds, metrics, strict=True))]


def _check_sources(result: ResultFile, scorings: dict[str, Scoring]) -> None:
    """COMET reads each example's source: a COMET-scored dataset needs ``input`` in every output."""
    for dataset, outputs in result.outputs.items():
        if scorings[dataset].comet_model and not all("input" in o for o in outputs):
            raise CkptlensError(f"{result.path}: outputs of {dataset!r} need 'input' for every example "
                                "(COMET's source text)")


def _check_score(result: ResultFile, dataset: str, rows: list[dict]) -> None:
    """Warn when the file's own score of a dataset (key ``DATASET_METRIC``) is not the recomputed one."""
    metric = next(iter(rows[0]["metrics"])) if rows else dataset_metric(dataset)
    stated = result.scores.get(f"{dataset}_{metric}")
    if not isinstance(stated, int | float):
        return
    recomputed = dataset_score(dataset, [r["output"] for r in rows], [r["target"] for r in rows],
                               [r["score"] for r in rows])
    scale = 100 if metric.startswith("bleu") else 1  # llm-jp-eval reports BLEU on 0-100
    if abs(stated / scale - recomputed) > SCORE_TOLERANCE:
        warnings.warn(f"{result.path}: {dataset}_{metric} is {stated} in the file but {recomputed:.4f} recomputed "
                      "from its outputs; the records hold the recomputed scores", stacklevel=3)


def _aggregates(result: ResultFile, checkpoint: str) -> list[dict]:
    """The file's scores: ``DATASET_METRIC`` keys as (dataset, metric), categories and AVG as themselves."""
    rows = []
    for key, value in sorted(result.scores.items()):
        if not isinstance(value, int | float):
            continue
        dataset = next((d for d in result.outputs if key.startswith(f"{d}_")), None)
        task, metric = (dataset, key[len(dataset) + 1 :]) if dataset else (key, SOURCE)
        rows.append({"run": result.run, "checkpoint": checkpoint, "step": result.step, "task": task,
                     "metric": metric, "value": float(value), "source": str(result.path)})
    return rows
