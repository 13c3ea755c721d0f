"""Rows set side by side cover the same checkpoints, and commands with nothing to show say so (exit 2)."""

import json

from tests.cli.conftest import write_mc_task


def long_series(tiny_series, root):
    """Ten checkpoints (steps 10..100) made of links to the four tiny ones: a series to take the final 20% of."""
    root.mkdir()
    members = sorted(tiny_series.iterdir())
    members = [m for m in members if m.is_dir()]
    for i, step in enumerate(range(10, 110, 10)):
        (root / f"step{step}").symlink_to(members[i % len(members)], target_is_directory=True)
    return root


def test_last_fraction_store_compares_every_method_over_the_same_steps(cli, tiny_series, tmp_path):
    series = long_series(tiny_series, tmp_path / "series")
    task = write_mc_task(tmp_path / "colors.jsonl", n=8)
    store = tmp_path / "store"
    code, _, err = cli("eval", series, "--tasks", task, "--store", store, "--last", "0.2")
    assert code == 0, err  # steps 80, 90, 100: an ensemble of 2 covers 90 and 100 only

    code, out, err = cli("stability", "--store", store, "--windows", "2,4", "--format", "json", "--bootstrap", 0)
    assert code == 0, err
    rows = json.loads(out)
    assert {r["method"] for r in rows} >= {"raw", "ensemble-vote"}
    assert {(r["first_step"], r["last_step"], r["n_checkpoints"]) for r in rows} == {(90, 100, 2)}
    assert all("compared over steps 90-100" in r["note"] for r in rows)
    assert "ensemble of 2 covers 2 of the 3 checkpoints scored (steps 80-100; kept" in err
    assert "ensemble of 4 covers 0 of the 3 checkpoints scored (steps 80-100; left out)" in err


def test_stability_on_a_store_of_averaged_runs_only_says_what_to_evaluate(cli, tmp_path):
    from ckptlens.store import Store, records_table
    from tests.analysis.test_stability import mc_rows

    store = Store(tmp_path / "store")
    for step in (10, 20, 30):
        store.write_unit("avg2", f"step{step}", "t", records_table(mc_rows("avg2", "t", step, [0, 1], [0, 0])))
    store.write_run_info("avg2", {"series": "/runs/avg2", "averaged_from": "/runs/base", "window": 2})
    code, out, err = cli("stability", "--store", store.root)
    assert code == 2 and out == ""
    assert "holds only averaged runs (avg2)" in err and "ckptlens eval /runs/base" in err
    assert len(err.strip().splitlines()) == 1


def test_stability_on_a_series_folder_says_it_is_not_a_store(cli, tiny_series):
    code, out, err = cli("stability", "--store", tiny_series)
    assert code == 2 and out == ""
    assert "is a checkpoint series, not a store" in err and "ckptlens eval" in err


def test_linearity_without_averaged_runs_exits_2(cli, tmp_path):
    from ckptlens.store import Store, records_table
    from tests.analysis.test_stability import mc_rows

    store = Store(tmp_path / "store")
    for step in (10, 20, 30):
        store.write_unit("base", f"step{step}", "t", records_table(mc_rows("base", "t", step, [0, 1], [0, 0])))
    code, out, err = cli("linearity", "--store", store.root, "--format", "csv")
    assert code == 2 and out == "" and "no averaged run" in err


def test_empty_capability_tables_keep_their_header(cli, tmp_path):
    from tests.analysis.test_pythia_format import write_pythia_files

    write_pythia_files(tmp_path / "70m", "70m", seed=0)
    assert cli("import", "lm-eval", tmp_path / "70m", "--store", tmp_path / "store")[0] == 0
    code, _, err = cli("capabilities", "--store", tmp_path / "store", "--out", tmp_path / "cap")
    assert code == 0, err  # one size: nothing to rank or correlate across sizes, but the files say what they hold
    assert (tmp_path / "cap" / "ranking.csv").read_text().strip() == "task,step,kendall_tau"
    assert (tmp_path / "cap" / "similarity.csv").read_text().strip() == "run_a,run_b,category,n_tasks,correlation"
