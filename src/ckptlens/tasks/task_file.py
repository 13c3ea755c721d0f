"""The task file format: ``NAME.jsonl`` examples plus an optional ``NAME.yaml`` spec.

One JSON object a line. Multiple choice (pre-rendered: the context already holds
any demonstrations; each choice is a continuation scored by summed log-likelihood)::

    {"id": "cap-17", "context": "Q: ...\\nA:", "choices": [" Paris", " Rome"], "gold": 0}

Generation (greedy decoding until a stop sequence, scored by exact match)::

    {"id": "sum-3", "context": "12 + 5 =", "target": " 17"}

A ``.yaml`` file given directly is a templated task (your own fields rendered
by Jinja2 templates, see :mod:`ckptlens.tasks.template`) or an
lm-evaluation-harness task YAML with local data (see
:mod:`ckptlens.tasks.lm_eval_yaml`); a spec without templates stands for
the JSONL file of the same stem. A ``.txt`` file is a perplexity task: the
whole file is one document whose loss (bits per byte) is recorded; see
:mod:`ckptlens.evaluation.perplexity`.

The optional spec beside it (same stem, ``.yaml``) sets ``name``, ``category``,
``description``, ``stop``, ``max_new_tokens`` and records the few-shot
``demonstrations`` the contexts were built with. Without it the task is named
after the file, its kind read from the examples, its category ``other``.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from pydantic import BaseModel, ConfigDict, Field, model_validator

from ckptlens.errors import CkptlensError
from ckptlens.files import atomic_path, read_text, validated, write_text_atomic
from ckptlens.tasks.jsonl import json_objects
from ckptlens.tasks.lm_eval_yaml import is_lm_eval_yaml, load_lm_eval_task, read_yaml
from ckptlens.tasks.task import Example, Task
from ckptlens.tasks.template import load_template_task

YAML_SUFFIXES = (".yaml", ".yml")
SPEC_KEYS = {"name", "kind", "category", "description", "stop", "max_new_tokens", "demonstrations"}


def load_task(path: str | Path) -> Task:
    """Read and validate a task file (JSONL, template spec or lm-eval YAML); every problem is a one-line CkptlensError.

    >>> task = load_task("tasks/capitals.jsonl")
    >>> task.name, task.kind, task.category, len(task.examples)
    ('capitals', 'multiple_choice', 'knowledge', 12)
    """
    path = Path(path)
    if not path.is_file():
        raise CkptlensError(f"task file not found: {path}")
    if path.suffix in YAML_SUFFIXES:
        return _load_yaml_task(path)
    if path.suffix == ".txt":
        return perplexity_task(path)
    spec = _read_spec(path.with_suffix(".yaml"))
    examples = tuple(_example(where, obj) for where, obj in json_objects(path))
    if not examples:
        raise CkptlensError(f"{path}: no examples; a task file holds one JSON example a line")
    kinds = {"multiple_choice" if e.choices else "generation" for e in examples}
    if len(kinds) > 1:
        raise CkptlensError(f"{path}: mixes multiple-choice and generation examples; use one file per kind")
    ids = [e.id for e in examples]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise CkptlensError(f"{path}: duplicate example id {dup!r}; ids must be unique within a task")
    return Task(
        name=spec.name or path.stem,
        kind=kinds.pop(),
        examples=examples,
        category=spec.category or "other",
        description=spec.description or "",
        stop=("\n",) if spec.stop is None else tuple(spec.stop),
        max_new_tokens=16 if spec.max_new_tokens is None else spec.max_new_tokens,
        demonstrations=tuple(spec.demonstrations or ()),
    )


def _load_yaml_task(path: Path) -> Task:
    raw = read_yaml(path)
    if is_lm_eval_yaml(raw):
        return load_lm_eval_task(path, raw)
    if "prompt" in raw or "data" in raw:
        return load_template_task(path, raw)
    if path.with_suffix(".jsonl").is_file():
        return load_task(path.with_suffix(".jsonl"))
    raise CkptlensError(
        f"{path}: neither a template task (data + prompt), an lm-eval task (dataset_path) "
        "nor the spec of a JSONL file beside it"
    )


def save_task(task: Task, folder: str | Path) -> Path:
    """Write ``task`` as ``folder/NAME.jsonl`` plus its spec ``folder/NAME.yaml``; returns the JSONL path."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{task.name}.jsonl"
    with atomic_path(path) as partial, partial.open("w") as f:
        for e in task.examples:
            f.write(json.dumps(_example_dict(e)) + "\n")
    spec = {
        "name": task.name,
        "kind": task.kind,
        "category": task.category,
        "description": task.description,
        "stop": list(task.stop),
        "max_new_tokens": task.max_new_tokens,
        "demonstrations": list(task.demonstrations),
    }
    write_text_atomic(path.with_suffix(".yaml"), yaml.safe_dump(spec, sort_keys=False, allow_unicode=True))
    return path


def _example_dict(e: Example) -> dict:
    if e.choices:
        return {"id": e.id, "context": e.context, "choices": list(e.choices), "gold": e.gold}
    return {"id": e.id, "context": e.context, "target": e.target}


class TaskSpec(BaseModel):
    """The optional spec beside a task file (``NAME.yaml``): every key checked when it is read."""

    model_config = ConfigDict(strict=True, extra="forbid")
    name: str | None = None
    kind: str | None = None
    category: str | None = None
    description: str | None = None
    stop: list[str] | None = None
    max_new_tokens: int | None = Field(default=None, ge=1)
    demonstrations: list[dict] | None = None


class ExampleRow(BaseModel):
    """One line of a task file: multiple choice (``choices`` and ``gold``) or generation (``target``)."""

    model_config = ConfigDict(strict=True, extra="allow")
    id: str | int
    context: str
    choices: list[str] | None = Field(default=None, min_length=1)
    gold: int | None = Field(default=None, ge=0)
    target: str | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> ExampleRow:
        if self.choices is not None:
            if self.gold is None or self.gold >= len(self.choices):
                last = len(self.choices) - 1
                raise ValueError(f"'gold' must be an index into choices (0..{last}), got {self.gold!r}")
        elif self.target is None:
            raise ValueError("needs 'choices' and 'gold' (multiple choice) or 'target' (generation)")
        return self


def _read_spec(path: Path) -> TaskSpec:
    if not path.is_file():
        return TaskSpec()
    try:
        spec = yaml.safe_load(read_text(path)) or {}
    except yaml.YAMLError as err:
        raise CkptlensError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(spec, dict):
        raise CkptlensError(f"{path}: the task spec must be a mapping of {sorted(SPEC_KEYS)}")
    unknown = set(spec) - SPEC_KEYS
    if unknown:
        raise CkptlensError(f"{path}: unknown spec keys {sorted(unknown)}; allowed: {sorted(SPEC_KEYS)}")
    return validated(TaskSpec, spec, path, fix="correct the task spec")


def _example(where: str, obj: dict) -> Example:
    path, _, line = where.rpartition(":")
    row = validated(ExampleRow, obj, path, int(line), fix="correct that line of the task file")
    if row.choices is not None:
        return Example(id=str(row.id), context=row.context, choices=tuple(row.choices), gold=row.gold)
    return Example(id=str(row.id), context=row.context, target=row.target)


def perplexity_task(path: Path) -> Task:
    """A ``.txt`` file as a perplexity task of one document, named after the file."""
    text = read_text(path)
    if not text.strip():
        raise CkptlensError(f"{path} is empty; a perplexity task needs some text")
    return Task(name=path.stem, kind="perplexity", examples=(Example(path.name, text),), category="language modeling")
