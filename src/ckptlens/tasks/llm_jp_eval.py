"""llm-jp-eval's preprocessed datasets as tasks, with its prompt template, metrics and categories.

The instability study evaluated its checkpoints with llm-jp-eval v1.4.1 (4-shot, generative, 9 categories).
``--tasks llm-jp-eval:DIR`` reads every dataset of llm-jp-eval's preprocessing output as it is, and
``--tasks llm-jp-eval:DIR/NAME`` one of them. DIR is the ``.../evaluation`` folder that holds
``{train,dev,test}/NAME.json``; each file has ``instruction``, ``output_length``, ``metrics``, ``few_shots`` and
``samples`` (``input``, ``output``). The demonstrations are the first N samples of ``train/NAME.json``.

Generation follows llm-jp-eval's configuration: greedy, at most ``output_length`` new tokens, no BOS token
(ckptlens never adds special tokens to a context); the prediction is the output's first paragraph, NFKC
(:func:`ckptlens.tasks.metrics.first_paragraph_nfkc`), and so is the gold answer (NFKC).

MT datasets are scored by COMET when its package and model are on this machine (``--comet-model``,
:mod:`ckptlens.tasks.comet`), else by BLEU in the target language, with a warning saying which is missing.

>>> import json, pathlib
>>> dataset = {"instruction": "Answer entailment, contradiction or neutral.", "output_length": 3,
...            "metrics": ["exact_match"], "samples": [{"input": "A cat sleeps. An animal sleeps.",
...                                                      "output": "entailment"}] * 4}
>>> for split in ("train", "dev"):
...     folder = pathlib.Path("data/1.4.1/evaluation") / split
...     folder.mkdir(parents=True)
...     _ = (folder / "jnli.json").write_text(json.dumps(dataset))
>>> tasks = load_llm_jp_eval("llm-jp-eval:data/1.4.1/evaluation/jnli")
>>> tasks[0].name, tasks[0].category, len(tasks[0].examples)
('jnli', 'NLI', 4)
>>> category_scores({"jnli": 0.5, "janli": 0.7, "jsquad": 0.8, "jsts": 0.9})
({'NLI': 0.6, 'RC': 0.8}, 0.7)
"""

from __future__ import annotations

import unicodedata
import warnings
from dataclasses import dataclass
from pathlib import Path
from statistics import mean

from pydantic import BaseModel, ConfigDict, Field

from ckptlens.errors import CkptlensError
from ckptlens.files import read_json, validated
from ckptlens.tasks.comet import COMET, locate_comet
from ckptlens.tasks.metrics import DATASET_METRICS, METRICS, MODEL_METRICS
from ckptlens.tasks.task import Example, Task

PREFIX = "llm-jp-eval:"
FIX_DATASET = "correct it, or run llm-jp-eval's preprocessing again"


@dataclass(frozen=True)
class PromptTemplate:
    """llm-jp-eval's prompt: ``header`` (with the instruction), one ``shot`` per demonstration, then ``query``."""

    header: str
    shot: str
    query: str


LLM_JP_EVAL_TEMPLATES: dict[str, PromptTemplate] = {
    # Read from llm-jp-eval v1.3's get_evaluation_prompt (no custom prompt template), unchanged in v1.4.1's
    # default configuration. A later version goes beside it under its own key.
    "v1.4.1": PromptTemplate(
        header="以下は、タスクを説明する指示と、文脈のある入力の組み合わせです。要求を適切に満たす応答を書きなさい。\n\n"
        "### 指示:\n{instruction}",
        shot="\n\n### 入力:\n{input}\n\n### 応答:\n{output}",
        query="\n\n### 入力:\n{input}\n\n### 応答:\n",
    ),
}
DEFAULT_TEMPLATE = "v1.4.1"

CATEGORIES: dict[str, dict[str, str]] = {
    # category -> {dataset: the metric its category score uses}, as llm-jp-eval v1.4.1 averages them
    "NLI": {name: "exact_match" for name in ("jamp", "janli", "jnli", "jsem", "jsick")},
    "QA": {name: "char_f1" for name in ("jemhopqa", "niilc", "aio")},
    "RC": {"jsquad": "char_f1"},
    "MC": {name: "exact_match" for name in ("jcommonsenseqa", "commonsensemoralja", "kuci")},
    "EL": {"chabsa": "set_f1"},
    "FA": {"wiki_reading": "char_f1", "wiki_ner": "set_f1", "wiki_dependency": "set_f1", "wiki_pas": "set_f1",
           "wiki_coreference": "set_f1"},
    "MR": {"mawps": "exact_match"},
    "MT": {"alt-e-to-j": "comet_wmt22", "alt-j-to-e": "comet_wmt22", "wikicorpus-e-to-j": "comet_wmt22",
           "wikicorpus-j-to-e": "comet_wmt22"},
    "HE": {"mmlu_en": "exact_match", "jmmlu": "exact_match"},
}
DATASET_LEVEL = {"jsts": "pearson"}  # scored over the whole dataset, outside the categories
SCORED_OUTSIDE_AVERAGE = {"jsts": "STS"}  # scored (pearson/spearman), left out of the average as llm-jp-eval does
BLEU_FALLBACK = {"e-to-j": "bleu_ja", "j-to-e": "bleu_en"}  # MT without the COMET model


@dataclass(frozen=True)
class LlmJpEvalOptions:
    split: str = "dev"  # dev | test
    num_fewshot: int = 4  # demonstrations: the first N samples of train/NAME.json
    limit: int | None = None  # only the first N samples (llm-jp-eval's usual setting: 100)
    template: str = DEFAULT_TEMPLATE
    comet_model: str | None = None  # MT: the COMET model (tasks.comet.locate_comet; None: env, then HF cache)

    def __post_init__(self) -> None:
        if self.split not in ("dev", "test"):
            raise CkptlensError(f"--split must be dev or test, got {self.split!r}")
        if self.num_fewshot < 0 or (self.limit is not None and self.limit < 1):
            raise CkptlensError("--num-fewshot must be >= 0 and --limit >= 1")
        if self.template not in LLM_JP_EVAL_TEMPLATES:
            raise CkptlensError(f"unknown llm-jp-eval template {self.template!r}; known: {list(LLM_JP_EVAL_TEMPLATES)}")


def is_llm_jp_eval(spec: str) -> bool:
    return spec.startswith(PREFIX)


def resolve_llm_jp_eval(specs: list[str | Task], options: LlmJpEvalOptions) -> list[str | Task]:
    """``--tasks`` with each ``llm-jp-eval:...`` spec replaced by its tasks (read with ``options``); tasks already
    built (``lm-eval:`` names) pass through."""
    return [t for spec in specs
            for t in (load_llm_jp_eval(spec, options) if isinstance(spec, str) and is_llm_jp_eval(spec) else [spec])]


def load_llm_jp_eval(spec: str, options: LlmJpEvalOptions = LlmJpEvalOptions()) -> list[Task]:
    """The tasks ``llm-jp-eval:DIR`` (every dataset of the split) or ``llm-jp-eval:DIR/NAME`` names."""
    path = Path(spec.removeprefix(PREFIX))
    if (path.parent / options.split / f"{path.name}.json").is_file():
        return [dataset_task(path.parent, path.name, options)]
    files = sorted((path / options.split).glob("*.json"))
    if not files:
        raise CkptlensError(
            f"{spec}: no {options.split}/NAME.json under {path}; give llm-jp-eval's preprocessed "
            "'evaluation' folder (DIR) or DIR/NAME"
        )
    return [dataset_task(path, f.stem, options) for f in files]


def dataset_task(folder: Path, name: str, options: LlmJpEvalOptions = LlmJpEvalOptions()) -> Task:
    """One dataset as a generation Task: llm-jp-eval's prompts, its metrics (the category's first)."""
    data = read_dataset(folder / options.split / f"{name}.json")
    shots = read_dataset(folder / "train" / f"{name}.json")["samples"] if options.num_fewshot else []
    shots = shots[: options.num_fewshot]
    if len(shots) < options.num_fewshot:
        raise CkptlensError(f"{folder / 'train' / (name + '.json')}: fewer than {options.num_fewshot} samples "
                            "for the demonstrations; lower --num-fewshot")
    samples = data["samples"][: options.limit]
    prefix = prompt_prefix(data["instruction"], shots, options.template)
    template = LLM_JP_EVAL_TEMPLATES[options.template]
    examples = tuple(
        Example(str(i), prefix + template.query.format(input=s["input"]), target=nfkc(s["output"]), source=s["input"])
        for i, s in enumerate(samples)
    )
    if not examples:
        raise CkptlensError(f"{folder / options.split / (name + '.json')}: no samples")
    scoring = dataset_scoring(name, data["metrics"], options.comet_model)
    return Task(
        name=name,
        kind="generation",
        examples=examples,
        category=dataset_category(name),
        description=data["instruction"],
        stop=("\n\n",),  # the prediction is the first paragraph: decoding past a blank line changes nothing
        max_new_tokens=data["output_length"],
        metrics=scoring.metrics,
        answer_rule="llm-jp-eval",
        version=f"llm-jp-eval {options.template}",
        comet_model=scoring.comet_model,
    )


def nfkc(text: str) -> str:
    """llm-jp-eval's normalisation of gold answers."""
    return unicodedata.normalize("NFKC", text)


def prompt_prefix(instruction: str, shots: list[dict], template: str = DEFAULT_TEMPLATE) -> str:
    """The header and the demonstrations: every prompt of a dataset starts with it.

    >>> prompt_prefix("答えよ。", [{"input": "1+1", "output": "2"}])[-28:]
    '答えよ。\\n\\n### 入力:\\n1+1\\n\\n### 応答:\\n2'
    """
    chosen = LLM_JP_EVAL_TEMPLATES[template]
    return chosen.header.format(instruction=instruction) + "".join(
        chosen.shot.format(input=s["input"], output=s["output"]) for s in shots
    )


class Sample(BaseModel):
    """One sample of a dataset: the text that goes into the prompt and the gold answer (both text)."""

    model_config = ConfigDict(strict=True, extra="allow")
    input: str
    output: str


class Dataset(BaseModel):
    """A llm-jp-eval preprocessed dataset file (``{train,dev,test}/NAME.json``), as ckptlens reads it."""

    model_config = ConfigDict(strict=True, extra="allow")
    instruction: str
    output_length: int = Field(ge=1)  # new tokens to generate; 0 or less would score empty outputs
    metrics: list[str]
    samples: list[Sample]


def read_dataset(path: Path) -> dict:
    """One llm-jp-eval dataset file, validated against ``Dataset``: a field of the wrong type, missing, null,
    negative or non-finite is one line naming the file and the field (and the sample)."""
    if not path.is_file():
        raise CkptlensError(f"llm-jp-eval dataset not found: {path}")
    data = read_json(path, FIX_DATASET)
    validated(Dataset, data, path, fix=FIX_DATASET)
    return data


def dataset_category(name: str) -> str:
    """The study's category of a dataset (jsts: STS, outside the average; unknown: other)."""
    found = next((category for category, datasets in CATEGORIES.items() if name in datasets), None)
    return found or SCORED_OUTSIDE_AVERAGE.get(name, "other")


@dataclass(frozen=True)
class Scoring:
    """How a dataset's examples are scored: its per-example metrics (the first is the score) and, when COMET is
    among them, the COMET checkpoint."""

    metrics: tuple[str, ...]
    comet_model: str | None = None


def dataset_scoring(name: str, listed: list[str], comet_model: str | None = None) -> Scoring:
    """The per-example metrics of a dataset: the category's metric first, then the file's other ones.

    COMET (comet_wmt22) is kept when its package and model are here (``tasks.comet.locate_comet`` with
    ``comet_model``); else MT falls back to BLEU in the target language, with a warning naming what is missing, and
    reports say so. Dataset-level metrics (pearson, spearman) are computed over the dataset.
    """
    wanted = [dataset_metric(name, listed), *listed]
    comet = locate_comet(comet_model) if COMET in wanted else None
    if comet is not None and comet.checkpoint is None:
        warnings.warn(f"{name}: COMET (comet_wmt22) is not used, {comet.missing}; scored by {mt_fallback(name)} "
                      "instead", stacklevel=3)
    chosen = [mt_fallback(name) if m == COMET and not (comet and comet.checkpoint) else m for m in wanted]
    known = {*METRICS, *MODEL_METRICS, *DATASET_METRICS}
    unknown = [m for m in chosen if m not in known]
    if unknown:
        raise CkptlensError(f"dataset {name!r}: unknown metric {unknown[0]!r}; ckptlens knows {sorted(known)}")
    per_example = tuple(m for m in dict.fromkeys(chosen) if m not in DATASET_METRICS) or ("exact_match",)
    return Scoring(per_example, comet.checkpoint if comet and COMET in per_example else None)


def dataset_metric(name: str, listed: list[str] | None = None) -> str:
    """The metric a dataset's category score uses: the table's, else the dataset file's first."""
    for datasets in (*CATEGORIES.values(), DATASET_LEVEL):
        if name in datasets:
            return datasets[name]
    return (listed or ["exact_match"])[0]


def mt_fallback(name: str) -> str:
    """BLEU in the target language of an MT dataset (``*-e-to-j``: Japanese)."""
    return next((bleu for direction, bleu in BLEU_FALLBACK.items() if name.endswith(direction)), "bleu_en")


def category_patterns() -> dict[str, str]:
    """``--categories llm-jp-eval``: {dataset name: category}, in the form of a user categories file."""
    table = {name: category for category, datasets in CATEGORIES.items() for name in datasets}
    return {**table, **SCORED_OUTSIDE_AVERAGE}


def dataset_score(name: str, predictions: list[str], golds: list[str], scores: list[float]) -> float:
    """A dataset's llm-jp-eval score: the mean of its examples' scores, or its dataset-level metric (jsts).

    >>> dataset_score("jsts", ["1", "2", "3"], ["1", "2", "3"], [0.0, 0.0, 0.0])
    1.0
    """
    chosen = dataset_metric(name)
    if chosen in DATASET_METRICS:
        return DATASET_METRICS[chosen](predictions, golds)
    return mean(scores) if scores else float("nan")


def category_scores(dataset_scores: dict[str, float]) -> tuple[dict[str, float], float]:
    """Per category the unweighted mean of its datasets' scores, and the overall mean over categories.

    Only the study's 9 categories count (jsts and unknown datasets are left out), as llm-jp-eval averages.
    """
    by_category: dict[str, list[float]] = {}
    for name, score in dataset_scores.items():
        category = dataset_category(name)
        if category in CATEGORIES:
            by_category.setdefault(category, []).append(score)
    categories = {c: mean(v) for c, v in by_category.items()}
    return categories, (mean(categories.values()) if categories else float("nan"))
