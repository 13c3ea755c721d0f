"""Imports that would mix prompts, and ``ckptlens store check [--repair]``."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import huggingface_hub
import pytest

from ckptlens.store import Store, check_store, repair_store
from ckptlens.store.claims import claim_path
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format
from tests.robustness.helpers_trust_a import listing, one_error_line


def choices(question_prefix: str = "is it") -> list[ChoiceSample]:
    return [ChoiceSample(i, f"{question_prefix} {i}?", ["yes", "no"], i % 2, [-1.0 - i, -1.5]) for i in range(4)]


def test_importing_changed_prompts_into_a_stored_task_is_refused(cli, tmp_path):
    store = tmp_path / "store"
    write_new_format(tmp_path / "first", Checkpoint("step1000", {"boolq": choices()}))
    assert cli("import", "lm-eval", tmp_path / "first", "--store", store, "--run", "r")[0] == 0
    before = listing(store)
    write_new_format(tmp_path / "again", Checkpoint("step2000", {"boolq": choices("was it")}))
    code, _, err = cli("import", "lm-eval", tmp_path / "again", "--store", store, "--run", "r")
    line = one_error_line(err)
    assert code == 2 and "task 'boolq'" in line and "4 example(s)" in line and "--run" in line
    assert {k: v for k, v in listing(store).items() if k.startswith("records")} == {
        k: v for k, v in before.items() if k.startswith("records")
    }
    write_new_format(tmp_path / "same", Checkpoint("step2000", {"boolq": choices()}))
    assert cli("import", "lm-eval", tmp_path / "same", "--store", store, "--run", "r")[0] == 0  # same prompts: fine


def test_native_records_do_not_mix_with_imported_ones_of_other_prompts(cli, tiny_series, tmp_path, one_thread):
    """An import named like a native task, with other prompts, into the run of the native records."""
    from tests.cli.conftest import write_mc_task

    store = tmp_path / "store"
    task = write_mc_task(tmp_path / "boolq.jsonl", n=4)
    assert cli("eval", tiny_series, "--tasks", task, "--store", store, "--run", "r", "--steps", "10")[0] == 0
    samples = [ChoiceSample(i, f"q{i}", ["yes", "no"], 0, [-1.0, -2.0]) for i in range(4)]
    for sample in samples:  # lm-eval's doc ids are 0, 1, ...; the native task's ids are q0, q1, ...
        sample.doc_id = f"q{sample.doc_id}"
    write_new_format(tmp_path / "lm", Checkpoint("step20", {"boolq": samples}))
    code, _, err = cli("import", "lm-eval", tmp_path / "lm", "--store", store, "--run", "r")
    assert code == 2 and "run 'r', task 'boolq': 4 example(s) differ" in one_error_line(err)


# store check --------------------------------------------------------------------------------------------------


@pytest.fixture
def damaged_store(tmp_path, tiny_series, one_thread) -> tuple[Path, Path]:
    """A store of 4 units with one truncated unit, one stale claim and one leftover temporary file."""
    from ckptlens.evaluation.evaluate import evaluate
    from ckptlens.evaluation.runner import EvalConfig
    from tests.cli.conftest import write_mc_task

    task = write_mc_task(tmp_path / "facts.jsonl", n=4)
    evaluate(tiny_series, [str(task)], Store(tmp_path / "store"), config=EvalConfig(8))
    units = next((tmp_path / "store" / "records").iterdir()) / "facts"
    (units / "step000020.parquet").write_bytes((units / "step000020.parquet").read_bytes()[:64])
    claim_path(units / "step000030.parquet").write_text(json.dumps({"host": "gone", "pid": 1, "token": "t"}))
    old = time.time() - 3600
    os.utime(claim_path(units / "step000030.parquet"), (old, old))
    (units / ".tmp-0123abcd").write_bytes(b"half a file")
    os.utime(units / ".tmp-0123abcd", (old, old))
    return tmp_path / "store", task


def test_store_check_lists_damage_and_repair_makes_a_rerun_redo_exactly_it(damaged_store, tiny_series, cli):
    store, task = damaged_store
    untouched = {k: v for k, v in listing(store).items() if k.endswith(("step000010.parquet", "step000040.parquet"))}
    code, out, err = cli("store", "check", "--store", store)
    assert code == 1  # damage found: CI can fail on it
    assert [line.split(":")[0] for line in out.strip().splitlines()] == ["damaged", "stale claim", "temporary"]
    assert "step000020.parquet" in out and "step000030.parquet.claim" in out and ".tmp-0123abcd" in out
    assert "3 problem(s)" in err

    assert cli("store", "check", "--store", store, "--repair")[0] == 0  # repaired: nothing left
    assert cli("store", "check", "--store", store)[0] == 0
    assert check_store(Store(store)) == check_store(Store(store)).__class__()  # nothing left
    code, _, err = cli("eval", tiny_series, "--tasks", task, "--store", store, "--batch-size", "8")
    assert code == 0 and "evaluated 1 (checkpoint, task) units, 3 already stored" in err
    assert {k: v for k, v in listing(store).items() if k in untouched} == untouched


def test_store_check_leaves_a_live_writers_files_and_foreign_files(tmp_path):
    units = tmp_path / "store" / "records" / "r" / "t"
    units.mkdir(parents=True)
    (units / ".tmp-live").write_bytes(b"being written")
    (units / "notes.parquet").write_bytes(b"")
    problems = check_store(Store(tmp_path / "store"))
    assert problems.temporary == () and problems.stale_claims == ()
    assert problems.damaged == (units / "notes.parquet",)  # an empty file is not Parquet: damaged
    repair_store(problems)
    assert (units / ".tmp-live").exists()


def test_averages_of_a_hub_series_link_to_its_run(cli, tiny_series, tmp_path, monkeypatch, one_thread):
    """``average hf://org/name`` records the series as the store names it, not the cache folder it was read from."""
    from tests.checkpoints.test_hub import build_cache

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    checkpoints = sorted(p for p in tiny_series.iterdir() if p.is_dir())
    repo = build_cache(tmp_path / "hub", "org/tiny", {f"step{i + 1}": f"c{i}" for i in range(len(checkpoints))})
    for i, checkpoint in enumerate(checkpoints):
        shutil.copytree(checkpoint, repo / "snapshots" / f"c{i}", dirs_exist_ok=True)
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", None)  # no network: the cache alone
    assert cli("average", "hf://org/tiny", "--window", "2", "--out", tmp_path / "avg")[0] == 0
    assert json.loads((tmp_path / "avg" / "manifest.json").read_text())["source"] == "hf://org/tiny"
    task = tmp_path / "facts.jsonl"
    from tests.cli.conftest import write_mc_task

    write_mc_task(task, n=4)
    assert cli("eval", tmp_path / "avg", "--tasks", task, "--store", tmp_path / "store", "--steps", "4")[0] == 0
    assert Store(tmp_path / "store").run_info("avg")["averaged_from"] == "hf://org/tiny"


def test_imported_non_finite_log_likelihoods_are_refused(cli, tmp_path):
    samples = choices()
    samples[2].logliks = [float("nan"), -1.0]
    write_new_format(tmp_path / "lm", Checkpoint("step1000", {"boolq": samples}))
    code, _, err = cli("import", "lm-eval", tmp_path / "lm", "--store", tmp_path / "store", "--run", "r")
    assert code == 2 and "doc_id 2" in one_error_line(err) and "samples_boolq" in err
    assert not list((tmp_path / "store").glob("records/**/*.parquet"))
