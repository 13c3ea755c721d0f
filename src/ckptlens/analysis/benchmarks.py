"""What ckptlens knows about common benchmarks: capability category and chance level.

Data, not code: a task name is matched against ``BENCHMARKS`` in order (regular
expressions, full match, case-insensitive); MMLU / hendrycksTest subjects map
to the four MMLU areas. Tasks of ckptlens's own task files carry their
category in their spec, which wins over this table. A user YAML
(``{category: [task-or-regex, ...]}``) overrides both; see ``load_categories``.

>>> benchmark_category("hendrycksTest-college_physics"), benchmark_chance("piqa")
('knowledge-stem', 0.5)
>>> benchmark_category("my_task")
'other'
"""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from ckptlens.errors import CkptlensError
from ckptlens.tasks.llm_jp_eval import category_patterns

OTHER = "other"

# (pattern, category, chance of a uniform guess; None when not a choice among options)
BENCHMARKS: tuple[tuple[str, str, float | None], ...] = (
    (r"arc[_-]?easy|arc[_-]?challenge|arc_.*", "science-qa", 0.25),
    (r"sciq", "science-qa", 0.25),
    (r"openbookqa", "science-qa", 0.25),
    (r"piqa", "commonsense", 0.5),
    (r"winogrande", "commonsense", 0.5),
    (r"hellaswag", "commonsense", 0.25),
    (r"wsc(273)?", "commonsense", 0.5),
    (r"copa", "commonsense", 0.5),
    (r"lambada.*", "language-modelling", 0.0),
    (r"wikitext|pile.*|ptb", "language-modelling", None),
    (r"logiqa.*", "reasoning", 0.25),
    (r"boolq", "reading-comprehension", 0.5),
    (r"race", "reading-comprehension", 0.25),
    (r"gsm8k.*|arithmetic.*|math.*", "math", 0.0),
    (r"crows_pairs.*", "bias", None),
    (r"truthfulqa.*", "truthfulness", None),
)

MMLU_PREFIX = re.compile(r"^(?:hendrycksTest-|mmlu_)(.+)$", re.IGNORECASE)
MMLU_AREAS = {
    "knowledge-stem": (
        "abstract_algebra anatomy astronomy college_biology college_chemistry college_computer_science "
        "college_mathematics college_physics computer_security conceptual_physics electrical_engineering "
        "elementary_mathematics high_school_biology high_school_chemistry high_school_computer_science "
        "high_school_mathematics high_school_physics high_school_statistics machine_learning"
    ),
    "knowledge-humanities": (
        "formal_logic high_school_european_history high_school_us_history high_school_world_history "
        "international_law jurisprudence logical_fallacies moral_disputes moral_scenarios philosophy "
        "prehistory professional_law world_religions"
    ),
    "knowledge-social-sciences": (
        "econometrics high_school_geography high_school_government_and_politics high_school_macroeconomics "
        "high_school_microeconomics high_school_psychology human_sexuality professional_psychology "
        "public_relations security_studies sociology us_foreign_policy"
    ),
    "knowledge-other": (
        "business_ethics clinical_knowledge college_medicine global_facts human_aging management marketing "
        "medical_genetics miscellaneous nutrition professional_accounting professional_medicine virology"
    ),
}
SUBJECT_AREA = {subject: area for area, subjects in MMLU_AREAS.items() for subject in subjects.split()}


def task_category(task: str, own: str | None = None, overrides: dict[str, str] | None = None) -> str:
    """The category of ``task``: a user override, else the task's own (from its spec), else the table.

    >>> task_category("piqa"), task_category("facts", own="knowledge"), task_category("piqa", None, {"pi.*": "x"})
    ('commonsense', 'knowledge', 'x')
    """
    for pattern, category in (overrides or {}).items():
        if re.fullmatch(pattern, task, re.IGNORECASE):
            return category
    if own and own != OTHER:
        return own
    return benchmark_category(task)


def benchmark_category(task: str) -> str:
    """The capability category of a known benchmark: MMLU areas, then BENCHMARKS, else "other"."""
    mmlu = MMLU_PREFIX.match(task)
    if mmlu:
        return SUBJECT_AREA.get(mmlu.group(1).lower(), "knowledge-other")
    return next((category for pattern, category, _ in BENCHMARKS if re.fullmatch(pattern, task, re.I)), OTHER)


def benchmark_chance(task: str) -> float | None:
    """Score of a uniform guess on a known benchmark, or None when unknown."""
    if MMLU_PREFIX.match(task):
        return 0.25
    return next((chance for pattern, _, chance in BENCHMARKS if re.fullmatch(pattern, task, re.I)), None)


BUILTIN_CATEGORIES = {"llm-jp-eval": category_patterns}  # --categories NAME: tables ckptlens ships


def load_categories(path: str | Path) -> dict[str, str]:
    """A user mapping ``{category: [task name or regex, ...]}`` as {pattern: category}, or a built-in table.

    >>> load_categories("llm-jp-eval")["jsquad"]
    'RC'
    """
    if str(path) in BUILTIN_CATEGORIES:
        return BUILTIN_CATEGORIES[str(path)]()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text()) if path.is_file() else None
    except yaml.YAMLError as err:
        raise CkptlensError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise CkptlensError(f"{path}: expected a mapping of category -> list of task names or regexes")
    return {str(pattern): str(category) for category, patterns in data.items() for pattern in patterns}
