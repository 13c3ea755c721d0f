"""``ckptlens eval --watch``: evaluates the complete checkpoints, refreshes the report, and rejects mixed flags."""

import json

from tests.cli.conftest import write_mc_task
from tests.conftest import write_series


def test_watch_evaluates_complete_checkpoints_and_refreshes_the_report(cli, tmp_path):
    series = write_series(tmp_path / "series", steps=(10, 40, 50, 60))
    (series / "step000060" / "model.safetensors").unlink()  # a checkpoint that has begun: no weights yet
    task = write_mc_task(tmp_path / "mc.jsonl", n=4)

    code, _, err = cli("eval", series, "--tasks", task, "--store", tmp_path / "store", "--batch-size", 8,
                       "--watch", "--poll-seconds", 0.05, "--watch-timeout", 0.3, "--report", tmp_path / "report",
                       "--device", "cpu")

    assert code == 0, err
    assert "evaluated step000050" in err and "step000060" not in err
    assert "report not refreshed yet: only 1 checkpoint(s)" in err  # after step 10 and 40: window of one
    assert "watch ended: 3 checkpoint(s), 3 new units" in err
    assert (tmp_path / "report" / "report.html").is_file()  # after step 50: steps 40 and 50 in the final 20%
    assert (tmp_path / "report" / "stability.csv").is_file()


def test_watch_options_need_watch_and_watch_takes_no_filters(cli, tiny_series, tmp_path):
    for args in (["--watch-timeout", 5], ["--report", tmp_path / "r"], ["--watch", "--steps", "10:20"]):
        code, _, err = cli("eval", tiny_series, "--tasks", "x.jsonl", "--store", tmp_path / "s", *args)
        assert code == 2 and "need --watch" in err and "Traceback" not in err


def test_watch_last_sets_the_report_window(cli, tmp_path):
    """``--last 1`` with ``--watch``: the report covers all of training so far, so it is written once the
    checkpoints so far hold a window of 2 (the default final 20% would hold one checkpoint there)."""
    series = write_series(tmp_path / "series", steps=(10, 20, 40))
    task = write_mc_task(tmp_path / "mc.jsonl", n=4)
    code, _, err = cli("eval", series, "--tasks", task, "--store", tmp_path / "store", "--batch-size", 8,
                       "--watch", "--poll-seconds", 0.05, "--watch-timeout", 0.3, "--report", tmp_path / "report",
                       "--device", "cpu", "--last", "1")
    assert code == 0, err
    assert 1 <= err.count("report not refreshed yet") <= 2  # after step 10 alone, and 20 (no full window 2)
    assert (tmp_path / "report" / "report.html").is_file()
    rows = json.loads((tmp_path / "report" / "stability.json").read_text())
    assert {r["last_step"] for r in rows} == {40}


def test_watch_last_needs_a_report(cli, tiny_series, tmp_path):
    code, _, err = cli("eval", tiny_series, "--tasks", "x.jsonl", "--store", tmp_path / "s", "--watch", "--last", 0.5)
    assert code == 2 and "--last sets the stability window of the --report" in err


def test_eval_without_tasks_on_a_series_of_ones_own_asks_for_them(cli, tiny_series, tmp_path):
    code, _, err = cli("eval", tiny_series, "--store", tmp_path / "s")
    assert code == 2 and "--tasks is required" in err and "records no tasks" in err
    assert not (tmp_path / "s").exists()
