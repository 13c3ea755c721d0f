"""Templated tasks: your own data fields rendered into prompts, lm-evaluation-harness style.

A template task is a list of documents (one JSON object a line, any fields),
fixed demonstrations, and Jinja2 templates (the engine lm-eval uses, with the
same settings: undefined fields are errors, trailing newlines kept). It renders
to the same :class:`Task` as a pre-rendered JSONL file, with lm-eval's prompt
layout, so scores are comparable::

    description + (text(shot) + target_delimiter + answer(shot) + fewshot_delimiter) * n + text(doc)

and each choice is scored as the continuation ``target_delimiter + choice``.

The spec (``NAME.yaml``; relative paths are read from the spec's folder)::

    name: capitals
    kind: multiple_choice            # or generation
    category: knowledge
    data: capitals_docs.jsonl        # the documents to score
    prompt: "Q: capital of {{country}}?\\nA:"
    choices: options                 # a field, a template rendering a list ("{{options}}"), or a list
    answer: label                    # a field or template: index into choices, or the choice's text
    demonstrations: 4                # the first 4 documents of demonstrations_data (or a list of documents)
    demonstrations_data: capitals_train.jsonl
    target_delimiter: " "
    fewshot_delimiter: "\\n\\n"

For ``generation`` the answer is the reference text; ``stop`` and
``max_new_tokens`` apply as for JSONL tasks. A field name is used as is; any
other string is a template (``"{{question}}"``), exactly as lm-eval does.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import jinja2

from ckptlens.errors import CkptlensError
from ckptlens.tasks.jsonl import json_objects
from ckptlens.tasks.task import Example, Task, TaskKind

Field = str | int | list | None

JINJA = jinja2.Environment(loader=jinja2.BaseLoader(), undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
JINJA.filters["regex_replace"] = lambda text, pattern, repl, count=0: re.sub(pattern, repl, text, count=count)

TEMPLATE_KEYS = {
    "name", "kind", "category", "description", "data", "prompt", "choices", "answer", "id", "demonstrations",
    "demonstrations_data", "target_delimiter", "fewshot_delimiter", "stop", "max_new_tokens",
}  # fmt: skip


@dataclass(frozen=True)
class TemplateSpec:
    """How documents become prompts; lm-eval's doc_to_text / doc_to_choice / doc_to_target."""

    name: str
    kind: TaskKind
    prompt: Field
    answer: Field
    choices: Field = None
    category: str = "other"
    description: str = ""
    target_delimiter: str = " "
    fewshot_delimiter: str = "\n\n"
    num_shots: int = 0
    shots_exclude_self: bool = False  # demonstrations drawn from the scored documents skip the document itself
    example_id: str | None = None  # template for the example id; default: the document's line index
    stop: tuple[str, ...] = ("\n",)
    max_new_tokens: int = 16


def render_task(spec: TemplateSpec, docs: Sequence[dict], shot_pool: Sequence[dict]) -> Task:
    """Render documents into a Task, with the first ``spec.num_shots`` of ``shot_pool`` as demonstrations.

    >>> spec = TemplateSpec("caps", "multiple_choice", prompt="Q: {{q}}?\\nA:", answer="a", choices="c", num_shots=1)
    >>> docs = [{"q": "France", "c": ["Paris", "Rome"], "a": 0}, {"q": "Italy", "c": ["Paris", "Rome"], "a": 1}]
    >>> task = render_task(spec, docs[1:], docs[:1])
    >>> task.examples[0].context, task.examples[0].choices
    ('Q: France?\\nA: Paris\\n\\nQ: Italy?\\nA:', (' Paris', ' Rome'))
    """
    if spec.num_shots > len(shot_pool) - (1 if spec.shots_exclude_self else 0):
        raise CkptlensError(
            f"task {spec.name!r} asks for {spec.num_shots} demonstrations but only {len(shot_pool)} documents "
            "are available for them; lower num_fewshot or give more demonstration documents"
        )
    examples = tuple(_example(spec, index, doc, _shots(spec, doc, shot_pool)) for index, doc in enumerate(docs))
    if not examples:
        raise CkptlensError(f"task {spec.name!r} has no documents to score")
    return Task(
        name=spec.name,
        kind=spec.kind,
        examples=examples,
        category=spec.category,
        description=spec.description,
        stop=spec.stop,
        max_new_tokens=spec.max_new_tokens,
        demonstrations=tuple(shot_pool[: spec.num_shots]) if not spec.shots_exclude_self else (),
    )


def load_template_task(path: Path, raw: dict) -> Task:
    """A ckptlens template spec (the format above), already parsed from ``path``."""
    unknown = set(raw) - TEMPLATE_KEYS
    if unknown:
        raise CkptlensError(f"{path}: unknown template keys {sorted(unknown)}; allowed: {sorted(TEMPLATE_KEYS)}")
    for key in ("data", "prompt", "answer"):
        if key not in raw:
            raise CkptlensError(f"{path}: a template task needs {key!r}")
    shots = raw.get("demonstrations", [])
    pool = read_jsonl(path.parent / raw["demonstrations_data"]) if "demonstrations_data" in raw else shots
    kind = raw.get("kind", "multiple_choice" if "choices" in raw else "generation")
    spec = TemplateSpec(
        name=str(raw.get("name", path.stem)),
        kind=kind,
        prompt=raw["prompt"],
        answer=raw["answer"],
        choices=raw.get("choices"),
        category=str(raw.get("category", "other")),
        description=str(raw.get("description", "")),
        target_delimiter=str(raw.get("target_delimiter", " ")),
        fewshot_delimiter=str(raw.get("fewshot_delimiter", "\n\n")),
        num_shots=shots if isinstance(shots, int) else len(pool),
        example_id=raw.get("id"),
        stop=tuple(raw.get("stop", ("\n",))),
        max_new_tokens=int(raw.get("max_new_tokens", 16)),
    )
    return render_task(spec, read_jsonl(path.parent / raw["data"]), pool)


def read_jsonl(path: Path) -> list[dict]:
    """Documents of a JSON-lines file (blank lines skipped); each must be a JSON object."""
    if not path.is_file():
        raise CkptlensError(f"data file not found: {path}")
    return [doc for _, doc in json_objects(path)]


def resolve_field(field: Field, doc: dict, as_list: bool = False, digits_to_int: bool = False):
    """lm-eval's rule: a field name gives the field, other strings render as templates, anything else is itself.

    ``as_list`` parses the rendered text as a Python list (choices);
    ``digits_to_int`` turns a rendered number into an int (an answer index).

    >>> resolve_field("q", {"q": "Paris"}), resolve_field("{{q}}!", {"q": "Paris"}), resolve_field(2, {})
    ('Paris', 'Paris!', 2)
    >>> resolve_field("{{c}}", {"c": ["a", "b"]}, as_list=True), resolve_field("{{i}}", {"i": 1}, digits_to_int=True)
    (['a', 'b'], 1)
    """
    if not isinstance(field, str):
        return field
    if field in doc:
        return doc[field]
    try:
        text = _compiled(field).render(**doc)
    except jinja2.TemplateError as err:
        raise CkptlensError(f"template {field!r} fails on a document: {err}") from None
    if as_list:
        return _parse_list(field, text)
    return int(text) if digits_to_int and text.isdigit() else text


@functools.lru_cache(maxsize=256)
def _compiled(source: str) -> jinja2.Template:
    """A template compiled once: compiling takes milliseconds, and a task renders each field for every document."""
    return JINJA.from_string(source)


def _parse_list(field: str, text: str) -> list:
    try:
        value = ast.literal_eval(text)
    except (SyntaxError, ValueError):
        value = None
    if not isinstance(value, list | tuple):
        raise CkptlensError(f"template {field!r} renders {text[:60]!r}, not a list; render one like ['a', 'b']")
    return list(value)


def _shots(spec: TemplateSpec, doc: dict, pool: Sequence[dict]) -> list[dict]:
    """The first ``num_shots`` documents of the pool (without ``doc`` itself when drawn from the same split)."""
    if spec.shots_exclude_self:
        return [d for d in pool if d != doc][: spec.num_shots]
    return list(pool[: spec.num_shots])


def _example(spec: TemplateSpec, index: int, doc: dict, shots: list[dict]) -> Example:
    context = spec.description + "".join(
        _text(spec, shot) + spec.target_delimiter + _answer_text(spec, shot) + spec.fewshot_delimiter for shot in shots
    )
    context += _text(spec, doc)
    example_id = str(resolve_field(spec.example_id, doc)) if spec.example_id else str(index)
    if spec.kind == "generation":
        return Example(example_id, context, target=_answer_text(spec, doc))
    choices = _choices(spec, doc)
    return Example(
        example_id, context, tuple(spec.target_delimiter + c for c in choices), gold=_gold(spec, doc, choices)
    )


def _text(spec: TemplateSpec, doc: dict) -> str:
    text = resolve_field(spec.prompt, doc, digits_to_int=spec.kind == "multiple_choice")
    if not isinstance(text, str):
        raise CkptlensError(
            f"task {spec.name!r}: the prompt renders {text!r}, not text; "
            "multiple-input tasks (winogrande style) are not supported"
        )
    return text


def _choices(spec: TemplateSpec, doc: dict) -> list[str]:
    choices = resolve_field(spec.choices, doc, as_list=True)
    if not isinstance(choices, list | tuple) or not choices or not all(isinstance(c, str) for c in choices):
        raise CkptlensError(f"task {spec.name!r}: choices must be a non-empty list of strings, got {choices!r}")
    return list(choices)


def _gold(spec: TemplateSpec, doc: dict, choices: list[str]) -> int:
    answer = resolve_field(spec.answer, doc, digits_to_int=True)
    if isinstance(answer, str) and answer in choices:
        return choices.index(answer)
    if isinstance(answer, int) and not isinstance(answer, bool) and 0 <= answer < len(choices):
        return answer
    raise CkptlensError(
        f"task {spec.name!r}: the answer {answer!r} is neither an index into nor one of the choices {choices}"
    )


def _answer_text(spec: TemplateSpec, doc: dict) -> str:
    if spec.kind == "multiple_choice":
        choices = _choices(spec, doc)
        return choices[_gold(spec, doc, choices)]
    answer = resolve_field(spec.answer, doc)
    answer = answer[0] if isinstance(answer, list) and answer else answer
    return str(answer)
