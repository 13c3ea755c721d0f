"""What ckptlens knows about common benchmarks: capability category, chance level and size.

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
from ckptlens.files import read_text
from ckptlens.tasks.chance import chance_level
from ckptlens.tasks.llm_jp_eval import category_patterns

OTHER = "other"

# (pattern, category, options a guess chooses among: 0 for an exact answer, chance 0; None when not a choice)
BENCHMARKS: tuple[tuple[str, str, int | None], ...] = (
    (r"arc[_-]?easy|arc[_-]?challenge|arc_.*", "science-qa", 4),
    (r"sciq", "science-qa", 4),
    (r"openbookqa", "science-qa", 4),
    (r"piqa", "commonsense", 2),
    (r"winogrande", "commonsense", 2),
    (r"hellaswag", "commonsense", 4),
    (r"wsc(273)?", "commonsense", 2),
    (r"copa", "commonsense", 2),
    (r"lambada.*", "language-modelling", 0),
    (r"wikitext|pile.*|ptb", "language-modelling", None),
    (r"logiqa.*", "reasoning", 4),
    (r"boolq", "reading-comprehension", 2),
    (r"race", "reading-comprehension", 4),
    (r"gsm8k.*|arithmetic.*|math.*", "math", 0),
    (r"crows_pairs.*", "bias", None),
    (r"truthfulqa.*", "truthfulness", None),
)

# Examples in the split lm-eval scores (test, else validation); the Pythia results files agree
# (n = p(1 - p) / stderr^2 + 1 for every task they hold). Used when an import does not record its count.
BENCHMARK_SIZES = {
    "arc_easy": 2376, "arc_challenge": 1172, "sciq": 1000, "openbookqa": 500, "piqa": 1838, "winogrande": 1267,
    "hellaswag": 10042, "wsc": 104, "wsc273": 273, "copa": 100, "lambada_openai": 5153, "lambada_standard": 5153,
    "logiqa": 651, "boolq": 3270, "race": 1045,
}
MMLU_SIZES = {
    "abstract_algebra": 100, "anatomy": 135, "astronomy": 152, "business_ethics": 100, "clinical_knowledge": 265,
    "college_biology": 144, "college_chemistry": 100, "college_computer_science": 100, "college_mathematics": 100,
    "college_medicine": 173, "college_physics": 102, "computer_security": 100, "conceptual_physics": 235,
    "econometrics": 114, "electrical_engineering": 145, "elementary_mathematics": 378, "formal_logic": 126,
    "global_facts": 100, "high_school_biology": 310, "high_school_chemistry": 203,
    "high_school_computer_science": 100, "high_school_european_history": 165, "high_school_geography": 198,
    "high_school_government_and_politics": 193, "high_school_macroeconomics": 390, "high_school_mathematics": 270,
    "high_school_microeconomics": 238, "high_school_physics": 151, "high_school_psychology": 545,
    "high_school_statistics": 216, "high_school_us_history": 204, "high_school_world_history": 237,
    "human_aging": 223, "human_sexuality": 131, "international_law": 121, "jurisprudence": 108,
    "logical_fallacies": 163, "machine_learning": 112, "management": 103, "marketing": 234, "medical_genetics": 100,
    "miscellaneous": 783, "moral_disputes": 346, "moral_scenarios": 895, "nutrition": 306, "philosophy": 311,
    "prehistory": 324, "professional_accounting": 282, "professional_law": 1534, "professional_medicine": 272,
    "professional_psychology": 612, "public_relations": 110, "security_studies": 245, "sociology": 201,
    "us_foreign_policy": 100, "virology": 166, "world_religions": 171,
}

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
    """Score of a uniform guess on a known benchmark (``chance_level`` of its options), or None when unknown."""
    options = 4 if MMLU_PREFIX.match(task) else next(
        (n for pattern, _, n in BENCHMARKS if re.fullmatch(pattern, task, re.I)), None)
    return None if options is None else chance_level([options])


def benchmark_size(task: str) -> int | None:
    """Examples lm-eval scores on a known benchmark, or None when unknown.

    >>> benchmark_size("arc_challenge"), benchmark_size("hendrycksTest-virology"), benchmark_size("my_task")
    (1172, 166, None)
    """
    mmlu = MMLU_PREFIX.match(task)
    return MMLU_SIZES.get(mmlu.group(1).lower()) if mmlu else BENCHMARK_SIZES.get(task.lower())


def example_count(task: str, recorded: list[float | None]) -> tuple[int | None, str]:
    """Examples behind a task-level score, and where the number comes from: as the import recorded them
    (lm-eval ``n-samples``, the smallest over the steps given), else the benchmark's known size, else None.

    >>> example_count("arc_easy", [None, 500.0]), example_count("arc_easy", []), example_count("mine", [])
    ((500, 'n-samples'), (2376, 'known size'), (None, 'known size'))
    """
    known = [int(n) for n in recorded if n]
    if known:
        return min(known), "n-samples"
    return benchmark_size(task), "known size"


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
        data = yaml.safe_load(read_text(path)) if path.is_file() else None
    except yaml.YAMLError as err:
        raise CkptlensError(f"{path}: not valid YAML ({err.__class__.__name__})") from None
    if not isinstance(data, dict) or not all(isinstance(v, list) for v in data.values()):
        raise CkptlensError(f"{path}: expected a mapping of category -> list of task names or regexes")
    return {str(pattern): str(category) for category, patterns in data.items() for pattern in patterns}
