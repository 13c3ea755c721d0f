import pytest

from ckptlens.analysis.benchmarks import MMLU_AREAS, benchmark_chance, load_categories, task_category
from ckptlens.errors import CkptlensError


def test_common_benchmarks_map_to_categories():
    assert task_category("arc_easy") == task_category("sciq") == "science-qa"
    assert task_category("winogrande") == task_category("hellaswag") == "commonsense"
    assert task_category("lambada_openai") == "language-modelling"
    assert task_category("logiqa") == "reasoning"
    assert task_category("mmlu_high_school_us_history") == "knowledge-humanities"
    assert task_category("unheard_of") == "other"


def test_every_mmlu_subject_has_one_area():
    subjects = [s for group in MMLU_AREAS.values() for s in group.split()]
    assert len(subjects) == len(set(subjects)) == 57


def test_user_yaml_overrides_everything(tmp_path):
    path = tmp_path / "cats.yaml"
    path.write_text("physical:\n  - piqa\n  - 'arc_.*'\n")
    overrides = load_categories(path)
    assert task_category("arc_easy", None, overrides) == "physical"
    assert task_category("facts", "knowledge", overrides) == "knowledge"
    assert benchmark_chance("arc_challenge") == 0.25 and benchmark_chance("my_task") is None


def test_malformed_category_file(tmp_path):
    path = tmp_path / "cats.yaml"
    path.write_text("- just a list\n")
    with pytest.raises(CkptlensError, match="mapping of category"):
        load_categories(path)
