"""Run an lm-evaluation-harness task YAML whose data are local JSON-lines files.

Users bring the tasks they already have. What is read, with lm-eval's meaning::

    task: my_mc                      # the task name
    dataset_path: json               # only local JSON data: json / jsonl
    dataset_kwargs:
      data_files: {train: train.jsonl, test: test.jsonl}   # or one path (split "train"); relative to the YAML
    test_split: test                 # else validation_split
    fewshot_split: train             # else fewshot_config.split, training_split, validation_split, test_split
    output_type: multiple_choice     # or generate_until (generation_kwargs.until / max_gen_toks)
    doc_to_text: "Question: {{question}}\\nAnswer:"
    doc_to_choice: "{{choices}}"     # field, template or list
    doc_to_target: answer            # index or choice text
    description: ""
    target_delimiter: " "
    fewshot_delimiter: "\\n\\n"
    num_fewshot: 4
    fewshot_config: {sampler: first_n}   # demonstrations are the first n documents of the fewshot split

The demonstrations must be fixed (``sampler: first_n``, or ``num_fewshot: 0``):
lm-eval's default sampler draws them at random, which ckptlens does not mimic.
Keys that only change metrics or bookkeeping (``metric_list``, ``metadata``,
``tag`` ...) are ignored; ones that change the prompt and are not supported
here (``include``, ``process_docs``, ``!function``, ``gen_prefix``,
``use_prompt``) are errors. Example ids are the document's index in the test
split, as lm-eval's ``doc_id``.

>>> import json, pathlib
>>> docs = [{"q": "What is the capital of France?", "a": 0}, {"q": "What is the capital of Italy?", "a": 1}]
>>> _ = pathlib.Path("test.jsonl").write_text("".join(json.dumps(doc) + "\\n" for doc in docs))
>>> _ = pathlib.Path("my_mc.yaml").write_text(
...     "task: my_mc\\ndataset_path: json\\ndataset_kwargs:\\n  data_files: {dev: test.jsonl, test: test.jsonl}\\n"
...     "validation_split: dev\\ntest_split: test\\noutput_type: multiple_choice\\ndoc_to_text: '{{q}}'\\n"
...     "doc_to_choice: ['Paris', 'Rome']\\ndoc_to_target: '{{a}}'\\n")
>>> task = load_lm_eval_task("my_mc.yaml")
>>> task.name, task.examples[0].choices
('my_mc', (' Paris', ' Rome'))
"""

from __future__ import annotations

from pathlib import Path

import yaml

from ckptlens.errors import CkptlensError
from ckptlens.files import read_text
from ckptlens.tasks.task import Task
from ckptlens.tasks.template import TemplateSpec, read_jsonl, render_task

UNSUPPORTED = ("include", "process_docs", "gen_prefix", "use_prompt", "doc_to_image", "doc_to_audio")
OUTPUT_KINDS = {"multiple_choice": "multiple_choice", "generate_until": "generation"}


def is_lm_eval_yaml(raw: dict) -> bool:
    """lm-eval task YAMLs name their data with ``dataset_path``; ckptlens specs never do."""
    return "dataset_path" in raw


def load_lm_eval_task(path: str | Path, raw: dict | None = None) -> Task:
    """The Task an lm-eval YAML describes, with lm-eval's prompts, demonstrations and doc ids."""
    path = Path(path)
    raw = read_yaml(path) if raw is None else raw
    _check_supported(path, raw)
    splits = _data_files(path, raw)
    test = raw.get("test_split") or raw.get("validation_split")
    if test not in splits:
        raise CkptlensError(f"{path}: test split {test!r} is not among the data files' splits {sorted(splits)}")
    fewshot_config = raw.get("fewshot_config") or {}
    shot_split = _fewshot_split(raw, fewshot_config)
    num_shots = int(raw.get("num_fewshot") or 0)
    if num_shots and fewshot_config.get("sampler", "default") != "first_n" and not fewshot_config.get("samples"):
        raise CkptlensError(
            f"{path}: num_fewshot {num_shots} with lm-eval's random sampler; "
            "set fewshot_config.sampler: first_n so the demonstrations are fixed"
        )
    pool = fewshot_config.get("samples") or (_read_split(path, splits, shot_split) if num_shots else [])
    generation = raw.get("generation_kwargs") or {}
    until = generation.get("until", ["\n\n"])
    spec = TemplateSpec(
        name=str(raw.get("task", path.stem)),
        kind=_kind(path, raw),
        prompt=raw.get("doc_to_text", ""),
        answer=raw.get("doc_to_target"),
        choices=raw.get("doc_to_choice"),
        category=str(raw.get("category", "other")),  # a ckptlens extension; lm-eval has none
        description=str(raw.get("description", "")),
        target_delimiter=str(raw.get("target_delimiter", " ")),
        fewshot_delimiter=str(raw.get("fewshot_delimiter", "\n\n")),
        num_shots=num_shots,
        shots_exclude_self=shot_split == test and not fewshot_config.get("samples"),
        stop=tuple([until] if isinstance(until, str) else until),
        max_new_tokens=int(generation.get("max_gen_toks", 256)),
    )
    return render_task(spec, _read_split(path, splits, test), pool)


def read_yaml(path: Path) -> dict:
    """A task YAML as a mapping; lm-eval's ``!function`` tags name Python code ckptlens will not run."""
    try:
        raw = yaml.safe_load(read_text(path))
    except yaml.constructor.ConstructorError as err:
        raise CkptlensError(f"{path}: {err.problem}; Python hooks (!function) are not supported") from None
    except yaml.YAMLError as err:
        raise CkptlensError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(raw, dict):
        raise CkptlensError(f"{path}: a task YAML must be a mapping")
    return raw


def _check_supported(path: Path, raw: dict) -> None:
    found = [key for key in UNSUPPORTED if raw.get(key)]
    if found:
        raise CkptlensError(f"{path}: {found[0]!r} is not supported; inline it into this YAML")
    if raw.get("dataset_path") not in ("json", "jsonl"):
        raise CkptlensError(
            f"{path}: dataset_path {raw.get('dataset_path')!r} is not local; use dataset_path: json with "
            "dataset_kwargs.data_files pointing at JSON-lines files"
        )


def _kind(path: Path, raw: dict) -> str:
    output_type = raw.get("output_type", "multiple_choice" if raw.get("doc_to_choice") else "generate_until")
    if output_type not in OUTPUT_KINDS:
        raise CkptlensError(f"{path}: output_type {output_type!r} is not supported; use {' or '.join(OUTPUT_KINDS)}")
    return OUTPUT_KINDS[output_type]


def _data_files(path: Path, raw: dict) -> dict[str, list[Path]]:
    """Split name -> files, as ``datasets.load_dataset("json", data_files=...)`` reads them."""
    files = (raw.get("dataset_kwargs") or {}).get("data_files")
    if not files:
        raise CkptlensError(f"{path}: dataset_kwargs.data_files is missing; name the JSON-lines files")
    if not isinstance(files, dict):
        files = {"train": files}
    return {split: [_local(path, f) for f in ([f] if isinstance(f, str) else f)] for split, f in files.items()}


def _local(yaml_path: Path, name: str) -> Path:
    candidate = Path(name)
    return candidate if candidate.is_absolute() else yaml_path.parent / candidate


def _fewshot_split(raw: dict, fewshot_config: dict) -> str | None:
    for split in (raw.get("fewshot_split"), fewshot_config.get("split"), raw.get("training_split")):
        if split:
            return split
    return raw.get("validation_split") or raw.get("test_split")


def _read_split(path: Path, splits: dict[str, list[Path]], split: str | None) -> list[dict]:
    if split not in splits:
        raise CkptlensError(f"{path}: split {split!r} is not among the data files' splits {sorted(splits)}")
    return [doc for file in splits[split] for doc in read_jsonl(file)]
