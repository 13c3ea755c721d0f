"""The command shapes scripts rely on, end to end on the tiny fixture series."""

import csv
import io
import json

from ckptlens.store import Store
from tests.analysis.test_selection import write_task
from tests.cli.conftest import write_mc_task

RECORD_KEYS = {"run", "checkpoint", "step", "task", "example_id", "logliks", "pred", "gold", "correct"}
STABILITY_KEYS = {"run", "task", "method", "window", "n_checkpoints", "mean_score", "task_mtv", "example_mtv",
                  "instability_score", "std"}


def test_eval_records_average_stability(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=12)
    store = tmp_path / "store"
    code, _, err = cli("eval", tiny_series, "--tasks", task, "--store", store, "--run", "tiny")
    assert code == 0, err

    code, out, _ = cli("records", "--store", store, "--format", "jsonl")
    rows = [json.loads(line) for line in out.splitlines()]
    assert len(rows) == 4 * 12 and RECORD_KEYS <= set(rows[0])
    assert {r["step"] for r in rows} == {10, 20, 30, 40}
    assert all(len(r["logliks"]) == 4 and r["correct"] == (r["pred"] == r["gold"]) for r in rows)

    code, out, _ = cli("records", "--store", store, "--format", "csv")
    table = list(csv.DictReader(io.StringIO(out)))
    assert len(table) == 48 and json.loads(table[0]["logliks"]) == rows[0]["logliks"]

    code, _, err = cli("average", tiny_series, "--window", 2, "--out", tmp_path / "avg2")
    assert code == 0, err
    code, _, err = cli("eval", tmp_path / "avg2", "--tasks", task, "--store", store, "--run", "tiny-avg2")
    assert code == 0, err

    code, out, err = cli("stability", "--store", store, "--last", 0.5, "--windows", "2", "--format", "json")
    assert code == 0, err
    table = json.loads(out)
    assert STABILITY_KEYS <= set(table[0])
    fixed = {(r["method"], r["window"]) for r in table if not r["method"].startswith("adaptive-")}
    assert fixed == {("raw", 1), ("average", 2), ("ensemble-vote", 2), ("ensemble-mean-logprob", 2)}
    adaptive = {r["method"]: r["window"] for r in table if r["method"].startswith("adaptive-")}
    assert set(adaptive) == {"adaptive-average", "adaptive-ensemble-vote", "adaptive-ensemble-mean-logprob"}
    assert set(adaptive.values()) <= {1, 2}  # raw or the one fixed window
    assert all(r["run"] == "tiny" for r in table)
    raw = next(r for r in table if r["method"] == "raw")
    assert raw["n_checkpoints"] == 3 and 0 <= raw["example_mtv"] <= 1


def test_rerun_skips_finished_units(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=6)
    cli("eval", tiny_series, "--tasks", task, "--store", tmp_path / "s")
    code, _, err = cli("eval", tiny_series, "--tasks", task, "--store", tmp_path / "s")
    assert code == 0 and "evaluated 0 (checkpoint, task) units, 4 already stored" in err


def test_report_writes_html_figures_and_tables(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=6)
    cli("eval", tiny_series, "--tasks", task, "--store", tmp_path / "s")
    code, _, err = cli("report", "--store", tmp_path / "s", "--out", tmp_path / "r", "--last", 0.5)
    assert code == 0, err
    page = (tmp_path / "r" / "report.html").read_text()
    assert "data:image/png;base64," in page and "colors" in page
    for section in ("Mean over tasks", "Is the best raw checkpoint better than its neighbours?",
                    "Which checkpoint does each rule pick?", "Which examples flip?"):
        assert section in page
    assert len(list((tmp_path / "r" / "figures").glob("*__colors__examples.png"))) == 1
    assert (tmp_path / "r" / "stability.csv").is_file() and (tmp_path / "r" / "trajectories.csv").is_file()


def test_compare_select_and_category_summary(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=12)
    store = tmp_path / "store"
    cli("eval", tiny_series, "--tasks", task, "--store", store, "--run", "tiny")

    code, out, err = cli("compare", 10, 40, "--store", store, "--run", "tiny", "--task", "colors", "--format", "json")
    assert code == 0, err
    result = json.loads(out)
    assert result["n_examples"] == 12 and result["lost"] + result["gained"] <= 12 and 0 < result["p_value"] <= 1

    code, out, err = cli("select", "--store", store, "--last", "0.7", "--window", "2", "--splits", "10",
                         "--format", "json")
    assert code == 2 and out == ""  # random weights stay near chance: nothing learned, nothing to select
    assert "nothing to select" in err and "near chance" in err and len(err.strip().splitlines()) == 1


def test_select_and_category_summary_on_a_learned_task(cli, tmp_path):
    store = Store(tmp_path / "store")
    write_task(store, "rising", lambda step: 0.6 + step / 1000)
    store.write_run_info("r", {"series": "/r"})

    code, out, err = cli("select", "--store", store.root, "--last", "0.5", "--window", "2", "--splits", "10",
                         "--format", "json")
    assert code == 0, err
    assert {r["rule"] for r in json.loads(out)} == {"raw", "trailing-mean", "ensemble-vote"}

    code, out, err = cli("stability", "--store", store.root, "--last", "0.5", "--by", "category", "--format", "csv")
    assert code == 0, err
    header, first = out.splitlines()[:2]
    assert header.startswith("run,category,method,window,n_tasks") and first.startswith("r,k,raw,1,1")


def test_compare_unknown_step_is_one_line(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=4)
    cli("eval", tiny_series, "--tasks", task, "--store", tmp_path / "s", "--run", "tiny")
    code, _, err = cli("compare", 10, 15, "--store", tmp_path / "s", "--run", "tiny", "--task", "colors")
    assert code == 2 and "no checkpoint at step 15" in err


def test_compare_infers_the_run_and_compares_every_task(cli, tmp_path):
    store = Store(tmp_path / "store")
    write_task(store, "rising", lambda step: 0.6 + step / 1000)
    write_task(store, "flat", lambda step: 0.7, seed=1)
    store.write_run_info("r", {"series": "/r"})
    code, out, err = cli("compare", 10, 100, "--format", "json", "--store", store.root)
    assert code == 0, err
    assert [(r["run"], r["task"]) for r in json.loads(out)] == [("r", "flat"), ("r", "rising")]
    code, out, err = cli("compare", 10, 100, "--store", store.root, "--task", "rising")
    assert code == 0 and out.startswith("rising 10 -> 100") and "flat" not in out
    write_task_for_run = [dict(run="other", checkpoint="s10", step=10, task="t", kind="multiple_choice",
                               example_id="0", pred=0, gold=0, correct=True, score=1.0)]
    from ckptlens.store import records_table

    store.write_unit("other", "s10", "t", records_table(write_task_for_run))
    code, _, err = cli("compare", 10, 100, "--store", store.root)
    assert code == 2 and "holds 2 runs (other, r): name one with --run" in err


def test_store_defaults_to_store_in_the_working_folder(cli, tmp_path, monkeypatch):
    store = Store(tmp_path / "store")
    write_task(store, "rising", lambda step: 0.6 + step / 1000)
    store.write_run_info("r", {"series": "/r"})
    monkeypatch.chdir(tmp_path)
    for command in (["stability", "--windows", "2", "--bootstrap", "0"], ["compare", "10", "20"],
                    ["select", "--window", "2", "--splits", "5"], ["records", "--format", "csv"], ["linearity"]):
        code, out, err = cli(*command)
        assert (code, bool(out)) == ((2, False) if command[0] == "linearity" else (0, True)), (command, err)
