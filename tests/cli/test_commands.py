"""The command shapes scripts rely on, end to end on the tiny fixture series."""

import csv
import io
import json

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
    methods = {(r["method"], r["window"]) for r in table}
    assert methods == {("raw", 1), ("average", 2), ("ensemble-vote", 2), ("ensemble-mean-logprob", 2)}
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
    assert (tmp_path / "r" / "stability.csv").is_file() and (tmp_path / "r" / "trajectories.csv").is_file()
