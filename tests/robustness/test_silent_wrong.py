"""Inputs that once gave a silently wrong result with exit code 0: each is now an error or a correct result."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from ckptlens.checkpoints import Checkpoint
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import Piece, check_finite
from ckptlens.store import RECORD_SCHEMA, Store
from ckptlens.tasks.task import Task
from tests.robustness.helpers_trust_a import copy_series, edit_task, listing, one_error_line, poison, task_file

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture
def series(tiny_series, tmp_path) -> Path:
    return copy_series(tiny_series, tmp_path / "series")


@pytest.fixture
def task(tmp_path) -> Path:
    return task_file(tmp_path / "facts.jsonl")


def evaluate(cli, series, task, store, *more):
    return cli("eval", series, "--tasks", task, "--store", store, "--batch-size", "8", *more)


# NaN / inf weights --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [float("nan"), float("inf")])
def test_non_finite_weights_stop_eval_naming_the_checkpoint(cli, series, task, tmp_path, value):
    poison(series / "step000030", value)
    code, _, err = evaluate(cli, series, task, tmp_path / "store")
    assert code == 2
    assert "step000030" in one_error_line(err) and "NaN or inf" in err
    stored = sorted(p.name for p in (tmp_path / "store" / "records" / "series" / "facts").glob("*.parquet"))
    assert stored == ["step000010.parquet", "step000020.parquet"]  # nothing of the bad checkpoint is scored


def test_non_finite_log_likelihoods_are_never_scored():
    piece = Piece(Checkpoint("step5", Path("run/step5"), 5), Task("facts", "multiple_choice", ()))
    check_finite([{"example_id": "q0", "logliks": [-1.0, -2.0]}], piece)
    with pytest.raises(CkptlensError, match=r"run/step5: non-finite log-likelihoods on task 'facts' \(example q1\)"):
        check_finite([{"example_id": "q1", "logliks": [math.nan, -2.0]}], piece)
    with pytest.raises(CkptlensError, match="step5"):
        check_finite([{"example_id": "doc", "nll": math.inf}], piece)


def test_average_refuses_non_finite_inputs(cli, series, tmp_path):
    poison(series / "step000020")
    code, _, err = cli("average", series, "--window", "2", "--out", tmp_path / "avg")
    assert code == 2 and "step000020" in one_error_line(err)


# An edited task file ------------------------------------------------------------------------------------------


def test_an_edited_task_is_refused_then_reevaluated_on_request(cli, series, task, tmp_path):
    store = tmp_path / "store"
    assert evaluate(cli, series, task, store)[0] == 0
    before = listing(store)
    edit_task(task, ("q0", "q1"))
    code, _, err = evaluate(cli, series, task, store)
    assert code == 2
    line = one_error_line(err)
    assert "task 'facts'" in line and "2 example(s)" in line and "q0, q1" in line and "--reevaluate" in line
    assert listing(store) == before

    code, out, err = evaluate(cli, series, task, store, "--reevaluate")
    assert code == 0, err
    records = Store(store).read(["series"], ["facts"], ["checkpoint", "example_id", "prompt_hash"])
    assert records.num_rows == 4 * 6
    from ckptlens.evaluation.evaluate import task_hashes
    from ckptlens.tasks.task_file import load_task

    now = task_hashes(load_task(task))
    assert all(now[e] == h for e, h in zip(records["example_id"].to_pylist(), records["prompt_hash"].to_pylist()))
    assert evaluate(cli, series, task, store)[0] == 0  # consistent again: a plain rerun skips everything


def _keep_16_digits(store: Path, checkpoint: str, replace: str | None = None) -> None:
    """Rewrite a unit as ckptlens wrote it before keeping the full SHA-256: 16 hex digits (or ``replace``)."""
    path = Store(store).unit_path("series", checkpoint, "facts")
    table = pq.read_table(path)
    short = [replace or h[:16] for h in table["prompt_hash"].to_pylist()]
    Store(store).write_unit("series", checkpoint, "facts", table.set_column(
        table.schema.get_field_index("prompt_hash"), "prompt_hash", pa.array(short, pa.string())))


def test_16_digit_hashes_of_an_older_store_line_up_with_full_ones_and_a_real_difference_is_an_error(
        cli, series, task, tmp_path):
    from ckptlens.analysis.matrix import store_matrix

    store = tmp_path / "store"
    assert evaluate(cli, series, task, store, "--steps", "10")[0] == 0
    _keep_16_digits(store, "step000010")
    code, _, err = evaluate(cli, series, task, store, "--steps", "10,20")  # not a changed task
    assert code == 0, err
    records = Store(store).read(["series"], ["facts"], ["checkpoint", "prompt_hash"]).to_pylist()
    assert {(r["checkpoint"], len(r["prompt_hash"])) for r in records} == {("step000010", 16), ("step000020", 64)}
    assert list(store_matrix(Store(store), "series", "facts").steps) == [10, 20]

    _keep_16_digits(store, "step000010", replace="0" * 16)  # another prompt, hashed by an older ckptlens
    with pytest.raises(CkptlensError, match=r"series/facts: example q0 has prompt 0{16} at step000010 but [0-9a-f]{64} "
                                            r"at step000020"):
        store_matrix(Store(store), "series", "facts")
    code, _, err = evaluate(cli, series, task, store, "--steps", "10,20,30")
    assert code == 2 and "task 'facts': 6 example(s) differ" in one_error_line(err)


def test_a_task_with_more_examples_is_a_changed_task(cli, series, tmp_path):
    store = tmp_path / "store"
    assert evaluate(cli, series, task_file(tmp_path / "facts.jsonl", n=4), store, "--steps", "10")[0] == 0
    code, _, err = evaluate(cli, series, task_file(tmp_path / "facts.jsonl", n=6), store, "--steps", "10,20")
    assert code == 2 and "2 example(s)" in one_error_line(err) and "q4, q5" in err


# A reused --run name ------------------------------------------------------------------------------------------


def test_another_series_under_a_used_run_name_is_an_error(cli, series, task, tmp_path):
    store = tmp_path / "store"
    assert evaluate(cli, series, task, store, "--run", "X", "--steps", "10")[0] == 0
    other = copy_series(series, tmp_path / "other")
    before = listing(store)
    code, _, err = evaluate(cli, other, task, store, "--run", "X")
    assert code == 2 and "run 'X'" in one_error_line(err) and "--run" in err
    assert listing(store) == before


def test_average_window_results_get_their_own_run(cli, series, task, tmp_path):
    store = tmp_path / "store"
    assert evaluate(cli, series, task, store, "--run", "X")[0] == 0
    before = listing(store)
    code, out, err = evaluate(cli, series, task, store, "--run", "X", "--average-window", "2")
    assert code == 0, err
    assert "evaluated 3 " in err + out  # windows ending at steps 20, 30, 40: none of them "already stored"
    assert {k: v for k, v in listing(store).items() if k in before} == before  # X untouched
    info = Store(store).run_info("X-avg2")
    assert info["averaged_from"] == Store(store).run_info("X")["series"] and info["window"] == 2
    code, out, _ = cli("stability", "--store", store, "--last", "1", "--windows", "2", "--format", "json",
                       "--bootstrap", "0", "--adaptive", "none")
    assert code == 0 and '"method": "average"' in out


# Relative paths -----------------------------------------------------------------------------------------------


def test_average_in_one_directory_evaluate_in_another(cli, tiny_series, task, tmp_path, monkeypatch):
    work, elsewhere = tmp_path / "work", tmp_path / "elsewhere"
    copy_series(tiny_series, work / "series")
    elsewhere.mkdir()
    monkeypatch.chdir(work)
    assert cli("average", "series", "--window", "2", "--out", "avg2")[0] == 0
    monkeypatch.chdir(elsewhere)
    store = Path("store")
    assert evaluate(cli, "../work/series", task, store)[0] == 0
    assert evaluate(cli, "../work/avg2", task, store)[0] == 0
    info = Store(store).run_info("avg2")
    assert info["averaged_from"] == str((work / "series").resolve()) == Store(store).run_info("series")["series"]
    code, out, _ = cli("stability", "--store", store, "--last", "1", "--windows", "2", "--format", "json",
                       "--bootstrap", "0", "--adaptive", "none")
    assert code == 0 and '"method": "average"' in out


def test_a_relative_source_in_a_manifest_is_read_relative_to_the_manifest(tmp_path, monkeypatch):
    from ckptlens.tasks.resolve import manifest_source

    (tmp_path / "avg").mkdir()
    (tmp_path / "avg" / "manifest.json").write_text('{"method": "average", "window": 2, "source": "../series"}')
    monkeypatch.chdir(tmp_path / "avg")
    assert manifest_source(Path(".")) == (tmp_path / "series").resolve()


# A missing config.json ----------------------------------------------------------------------------------------


def test_a_checkpoint_without_config_is_an_error_naming_it(cli, series, task, tmp_path):
    (series / "step000020" / "config.json").unlink()
    for args in (("average", series, "--window", "2", "--out", tmp_path / "avg"),
                 ("eval", series, "--tasks", task, "--store", tmp_path / "store")):
        code, _, err = cli(*args)
        assert code == 2 and "step000020" in one_error_line(err) and "--skip-incomplete" in err
    assert not (tmp_path / "avg").exists() and not (tmp_path / "store").exists()


def test_skip_incomplete_windows_never_span_the_skipped_checkpoint(cli, series, task, tmp_path):
    (series / "step000020" / "config.json").unlink()
    code, _, err = cli("average", series, "--window", "2", "--out", tmp_path / "avg", "--skip-incomplete")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "avg").iterdir() if p.is_dir()) == ["step000040"]  # not 10+30
    code, out, err = evaluate(cli, series, task, tmp_path / "store", "--skip-incomplete", "--average-window", "2")
    assert code == 0, err
    assert sorted(Store(tmp_path / "store").read(None, None, ["checkpoint"])["checkpoint"].unique().to_pylist()) == [
        "step000040"
    ]


# Windows and splits that mean nothing ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def stored(tiny_series, tmp_path_factory, one_thread) -> Path:
    """A store holding the tiny series evaluated on a 6-example task (run 'series', task 'facts'), built once."""
    from ckptlens.evaluation.evaluate import evaluate as evaluate_api
    from ckptlens.evaluation.runner import EvalConfig

    root = tmp_path_factory.mktemp("stored")
    series = copy_series(tiny_series, root / "series")
    evaluate_api(series, [str(task_file(root / "facts.jsonl"))], Store(root / "store"), config=EvalConfig(8))
    return root / "store"


@pytest.fixture
def evaluated_store(stored, tmp_path) -> Path:
    return Path(shutil.copytree(stored, tmp_path / "store"))


# --window 0, --average-window 0, --stride 0, select --splits 0 / --window 0 and stability --windows beyond
# every run are cases of ``silent_cases.CASES`` (exit 2, the flag named, store unchanged).


# A record file of another schema ----------------------------------------------------------------------------


def test_a_records_file_with_a_column_of_another_type_is_named(evaluated_store):
    unit = evaluated_store / "records" / "series" / "facts" / "step000010.parquet"
    table = pq.read_table(unit)
    pq.write_table(table.set_column(table.schema.get_field_index("step"), "step",
                                    pa.array([str(s) for s in table["step"].to_pylist()])), unit)
    with pytest.raises(CkptlensError, match=r"step000010.parquet .*column 'step' is string, not int64"):
        Store(evaluated_store).read()


def test_a_truncated_records_file_is_named(cli, evaluated_store):
    unit = evaluated_store / "records" / "series" / "facts" / "step000020.parquet"
    unit.write_bytes(unit.read_bytes()[:100])
    code, _, err = cli("records", "--store", evaluated_store)
    assert code == 2 and "step000020.parquet is damaged" in one_error_line(err) and "store check" in err


def test_files_written_before_the_newest_columns_still_read(evaluated_store):
    unit = evaluated_store / "records" / "series" / "facts" / "step000010.parquet"
    pq.write_table(pq.read_table(unit).drop_columns(["choice_chars", "metrics", "task_version"]), unit)
    table = Store(evaluated_store).read(["series"], ["facts"])
    assert table.schema == RECORD_SCHEMA and table.num_rows == 4 * 6
    old = table.filter(pa.compute.equal(table["checkpoint"], "step000010"))
    assert old["task_version"].null_count == old.num_rows == 6


# Shared stores and validation before writing ------------------------------------------------------------------


def test_record_files_follow_the_umask(series, task, tmp_path, cli):
    previous = os.umask(0o022)
    try:
        assert evaluate(cli, series, task, tmp_path / "store", "--steps", "10")[0] == 0
    finally:
        os.umask(previous)
    files = [p for p in (tmp_path / "store").rglob("*") if p.is_file()]
    assert files and {oct(p.stat().st_mode & 0o777) for p in files} == {oct(0o644)}


def test_eval_validates_every_task_before_writing(cli, series, task, tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "context": "Q: the cat", "choices": [" red", ""], "gold": 0}\n')
    code, _, err = cli("eval", series, "--tasks", f"{task},{bad}", "--store", tmp_path / "store")
    assert code == 2 and "task 'bad'" in one_error_line(err) and "no tokens" in err
    assert not (tmp_path / "store").exists()


def test_the_demo_refuses_a_folder_it_did_not_make(cli, tmp_path):
    out = tmp_path / "mine"
    (out / "series").mkdir(parents=True)
    (out / "series" / "thesis.tex").write_text("years of work")
    code, _, err = cli("demo", "--out", out, "--tiny")
    assert code == 2 and "not made by the demo" in one_error_line(err)
    assert (out / "series" / "thesis.tex").read_text() == "years of work"
