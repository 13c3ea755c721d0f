"""lm-eval's own task YAMLs pointed at local data, as an offline user writes them (tests and no network).

``write_include_path(root)`` writes a folder for ``--include-path``: each YAML
``include:``s the installed lm-eval original and swaps its dataset for local
JSONL files of the same schema. Tasks: ``arc_easy`` and ``arc_challenge``
(multiple choice, acc and acc_norm; arc_challenge has half as many test documents), the
group ``tiny_arc`` of both (size-weighted acc and acc_norm), ``gsm8k`` (generate_until,
regex filters, ``num_fewshot: 5`` in its YAML), ``wikitext`` (loglikelihood_rolling), ``lambada_openai``
(loglikelihood: perplexity and acc) and the MMLU-shaped nested group ``tiny_mmlu`` (``tiny_mmlu_stem``: two
subjects weighted by size; ``tiny_mmlu_other``: two subjects, not weighted by size).
Words come from the tiny tokenizer's vocabulary.
"""

from __future__ import annotations

import json
from pathlib import Path

NUMBERS = "one two three four five six seven eight nine ten".split()
COLOURS = ["red", "blue", "green"]


def lm_eval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def _arc_rows(n: int, offset: int) -> list[dict]:
    return [{"id": f"q{i}", "question": f"what is {NUMBERS[i % 10]} plus {NUMBERS[(i + offset) % 10]} ?",
             "choices": {"text": [NUMBERS[(i + k) % 10] for k in range(3)] + ["the red cat runs"],
                         "label": ["A", "B", "C", "D"]},
             "answerKey": "ABCD"[i % 4]} for i in range(n)]


def _gsm_rows(n: int) -> list[dict]:
    return [{"question": f"what is {NUMBERS[i]} plus one ?", "answer": f"it is {NUMBERS[i + 1]} .\n#### {i + 2}"}
            for i in range(n)]


def _write_jsonl(path: Path, rows: list[dict]) -> str:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(path)


def _local_yaml(folder: Path, task: str, original: str, files: dict[str, str], extra: str = "") -> None:
    data_files = "".join(f"    {split}: {path}\n" for split, path in files.items())
    (folder / f"{task}.yaml").write_text(
        f"include: {lm_eval_tasks_dir() / original}\ntask: {task}\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n{data_files}{extra}"
    )


def write_include_path(root: Path, n_docs: int = 6) -> Path:
    """A folder of local-data task YAMLs (see the module docstring); returns it."""
    folder = root / "lm_eval_tasks"
    data = root / "lm_eval_data"
    folder.mkdir(parents=True, exist_ok=True)
    data.mkdir(exist_ok=True)
    for task, offset, n_test in (("arc_easy", 1, n_docs), ("arc_challenge", 2, n_docs // 2)):
        files = {s: _write_jsonl(data / f"{task}_{s}.jsonl", _arc_rows(n_test if s == "test" else n_docs, offset))
                 for s in ("train", "validation", "test")}
        _local_yaml(folder, task, f"arc/{task}.yaml", files)
    (folder / "tiny_arc.yaml").write_text(
        "group: tiny_arc\ntask:\n  - arc_easy\n  - arc_challenge\naggregate_metric_list:\n"
        "  - metric: acc\n    weight_by_size: true\n  - metric: acc_norm\n    weight_by_size: true\n"
        "metadata:\n  version: 1\n"
    )
    gsm = {s: _write_jsonl(data / f"gsm_{s}.jsonl", _gsm_rows(n_docs)) for s in ("train", "test")}
    _local_yaml(folder, "gsm8k", "gsm8k/gsm8k.yaml", gsm,
                'generation_kwargs:\n  until: ["Question:", "\\n"]\n  max_gen_toks: 6\n  do_sample: false\n')
    pages = [{"page": f"the {c} cat runs and the {d} dog sleeps . " * 3} for c, d in zip(COLOURS, COLOURS[::-1])]
    wiki = {s: _write_jsonl(data / f"wiki_{s}.jsonl", pages) for s in ("train", "validation", "test")}
    _local_yaml(folder, "wikitext", "wikitext/wikitext.yaml", wiki)
    lambada = [{"text": f"the {c} cat runs and the {d} dog {v}"} for c in COLOURS for d in COLOURS
               for v in ("sleeps", "runs")][:n_docs]
    _local_yaml(folder, "lambada_openai", "lambada/lambada_openai.yaml",
                {"test": _write_jsonl(data / "lambada_test.jsonl", lambada)})
    _write_mmlu(folder, data, n_docs)
    return folder


MMLU_GROUPS = {"tiny_mmlu_stem": (("anatomy", 4), ("algebra", 2)), "tiny_mmlu_other": (("law", 3), ("art", 1))}


def _write_mmlu(folder: Path, data: Path, n_docs: int) -> None:
    """``tiny_mmlu`` -> stem (size-weighted) and other (not) -> two subjects each, on MMLU's own template."""
    for group, subjects in MMLU_GROUPS.items():
        for subject, n_test in subjects:
            rows = [{"question": f"what is {NUMBERS[i % 10]} {subject} ?", "subject": subject,
                     "choices": [NUMBERS[(i + k) % 10] for k in range(4)], "answer": i % 4} for i in range(n_docs)]
            files = {"test": _write_jsonl(data / f"{subject}_test.jsonl", rows[:n_test]),
                     "dev": _write_jsonl(data / f"{subject}_dev.jsonl", rows)}
            _local_yaml(folder, f"tiny_mmlu_{subject}", "mmlu/default/_default_template_yaml", files,
                        f"tag: {group}_tasks\n")
        by_size = "true" if group.endswith("stem") else "false"
        (folder / f"{group}.yaml").write_text(
            f"group: {group}\ntask:\n  - {group}_tasks\naggregate_metric_list:\n  - metric: acc\n"
            f"    weight_by_size: {by_size}\nmetadata:\n  version: 2\n")
    (folder / "tiny_mmlu.yaml").write_text(
        "group: tiny_mmlu\ntask:\n  - tiny_mmlu_stem\n  - tiny_mmlu_other\naggregate_metric_list:\n"
        "  - metric: acc\n    weight_by_size: true\nmetadata:\n  version: 2\n")
