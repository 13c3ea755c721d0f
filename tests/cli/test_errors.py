"""Bad input: one line on stderr, exit code 2, no traceback."""

import json
import shutil

import pytest

from tests.cli.conftest import write_mc_task


def assert_one_line_error(result, *fragments):
    code, out, err = result
    assert code == 2, (code, out, err)
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), err
    assert "Traceback" not in err
    for fragment in fragments:
        assert fragment in err


def test_checkpoint_without_weights(cli, tiny_series, tmp_path):
    series = tmp_path / "series"
    shutil.copytree(tiny_series, series)
    (series / "step000020" / "model.safetensors").unlink()
    task = write_mc_task(tmp_path / "t.jsonl")
    assert_one_line_error(cli("eval", series, "--tasks", task, "--store", tmp_path / "s"), "step000020")


@pytest.mark.parametrize(
    "line, fragment",
    [
        ('{"id": "a", "context": "Q:", "choices": [" a"], "gold": 0', "not valid JSON"),
        ('{"id": "a", "context": "Q:", "choices": [" a", " b"], "gold": 2}', "'gold' must be an index"),
        ('{"id": "a", "context": "Q:", "choices": [], "gold": 0}', "field choices should have at least 1 item"),
    ],
)
def test_malformed_task_file(cli, tiny_series, tmp_path, line, fragment):
    task = tmp_path / "bad.jsonl"
    task.write_text(json.dumps({"id": "ok", "context": "Q:", "choices": [" a", " b"], "gold": 0}) + "\n" + line + "\n")
    result = cli("eval", tiny_series, "--tasks", task, "--store", tmp_path / "s")
    assert_one_line_error(result, "bad.jsonl:2", fragment)


def test_empty_series(cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = cli("eval", tmp_path / "empty", "--tasks", "x.jsonl", "--store", tmp_path / "s")
    assert_one_line_error(result, "no checkpoints")


def test_window_larger_than_series(cli, tiny_series, tmp_path):
    assert_one_line_error(cli("average", tiny_series, "--window", 5, "--out", tmp_path / "avg"), "window of 5")


def test_unknown_task_suggests_a_name(cli, tiny_series, tmp_path):
    assert_one_line_error(cli("eval", tiny_series, "--tasks", "sum_choise", "--store", tmp_path / "s"), "unknown task")


def test_stability_on_a_missing_store(cli, tmp_path):
    assert_one_line_error(cli("stability", "--store", tmp_path / "nowhere"), "store not found")


def test_unknown_ensemble_rule(cli, tmp_path):
    (tmp_path / "s").mkdir()
    assert_one_line_error(cli("stability", "--store", tmp_path / "s", "--rules", "vote,median"), "'median'")
