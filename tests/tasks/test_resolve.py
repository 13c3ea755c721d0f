import json

import pytest

from ckptlens.errors import CkptlensError
from ckptlens.tasks.resolve import resolve_tasks
from ckptlens.tasks.task import Example, Task
from ckptlens.tasks.task_file import save_task
from ckptlens.world import BUILTIN_TASK_NAMES, build_world, builtin_tasks

NAME = BUILTIN_TASK_NAMES[0]


def own_task() -> Task:
    return Task(NAME, "multiple_choice", (Example("x", "Q:", (" a", " b"), 1),), category="mine")


def test_series_tasks_folder_comes_first(tmp_path):
    save_task(own_task(), tmp_path / "series" / "tasks")
    assert resolve_tasks([NAME], tmp_path / "series") == [own_task()]


def test_averaged_series_finds_the_tasks_of_its_source(tmp_path):
    save_task(own_task(), tmp_path / "series" / "tasks")
    (tmp_path / "avg").mkdir()
    manifest = {"method": "average", "source": str(tmp_path / "series")}
    (tmp_path / "avg" / "manifest.json").write_text(json.dumps(manifest))
    assert resolve_tasks([NAME], tmp_path / "avg") == [own_task()]


def test_without_a_tasks_folder_the_world_of_the_series_seed_is_used(tmp_path):
    (tmp_path / "manifest.json").write_text(json.dumps({"seed": 3}))
    expected = next(t for t in builtin_tasks(build_world(3)) if t.name == NAME)
    assert resolve_tasks([NAME], tmp_path) == [expected]


def test_all_expands_to_every_builtin_task_once(tmp_path):
    names = [t.name for t in resolve_tasks(["all", NAME], tmp_path)]
    assert names == list(BUILTIN_TASK_NAMES)


def test_task_file_path(tmp_path):
    path = save_task(own_task(), tmp_path)
    assert resolve_tasks([str(path)]) == [own_task()]


def test_unknown_name_suggests_the_closest(tmp_path):
    with pytest.raises(CkptlensError, match=f"did you mean '{NAME}'"):
        resolve_tasks([NAME[:-1] + "x"], tmp_path)


def test_no_tasks_named_means_the_builtins_only_on_a_series_that_records_them(tmp_path):
    from ckptlens.tasks.resolve import default_tasks

    save_task(own_task(), tmp_path / "demo" / "tasks")
    (tmp_path / "avg").mkdir()
    (tmp_path / "avg" / "manifest.json").write_text(json.dumps({"source": str(tmp_path / "demo")}))
    assert default_tasks(tmp_path / "demo") == default_tasks(tmp_path / "avg") == ["all"]
    (tmp_path / "mine").mkdir()
    with pytest.raises(CkptlensError, match="--tasks is required"):
        default_tasks(tmp_path / "mine")
