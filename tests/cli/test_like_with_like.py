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
    assert "ensemble of 2 covers 2 checkpoint(s) of the final window (kept" in err
    assert "ensemble of 4 covers 0 checkpoint(s) of the final window (left out)" in err
