"""The report's "Where is this run heading?" section, on imported task-level results of three sizes."""

from tests.cli.test_forecast_cli import STEPS, import_runs


def test_forecast_section(cli, tmp_path):
    store = import_runs(cli, tmp_path, {"pythia-160m": ("160m", STEPS, None), "pythia-410m": ("410m", STEPS, 63000),
                                        "pythia-1.4b": ("1.4b", STEPS, None)})
    code, _, err = cli("report", "--store", store, "--out", tmp_path / "report")
    assert code == 0, err
    page = (tmp_path / "report" / "report.html").read_text()
    start = page.index("<details><summary>Where is this run heading?</summary>")
    section = page[start:page.index("</details>", start)]
    assert "pythia-410m: forecast to step 166000" in section  # no planned end recorded: twice the last step
    assert "Backtest (first 30% of the run" in section and "coverage" in section
    assert "<td class='l'>arc_easy</td><td>63000</td>" in section  # the injected drop, flagged
    assert "Health: no checkpoint drops" in section  # the other runs are quiet
    assert (tmp_path / "report" / "figures" / "forecast-pythia-410m-arc_easy.png").stat().st_size > 1000


def test_a_run_at_its_planned_end_shows_its_backtest(cli, tmp_path):
    """A run whose series plans 83,000 steps and holds them all: nothing to forecast past its end (not twice its
    last step); the section forecasts its end from its first 30% and draws the points after the cut."""
    import json

    from ckptlens.report.forecast import watch_lines
    from ckptlens.store import Store

    store = import_runs(cli, tmp_path, {"pythia-160m": ("160m", STEPS, None), "pythia-410m": ("410m", STEPS, None)})
    for run, planned in (("pythia-410m", 83000), ("pythia-160m", 100000)):
        series = tmp_path / f"series-{run}"
        series.mkdir()
        (series / "manifest.json").write_text(json.dumps({"config": {"max_steps": planned}, "checkpoints": []}))
        Store(store).relink_run(run, str(series))
    code, _, err = cli("report", "--store", store, "--out", tmp_path / "report")
    assert code == 0, err
    page = (tmp_path / "report" / "report.html").read_text()
    assert "pythia-410m: reached its planned last step 83000; its final scores forecast from its first 30%" in page
    assert "pythia-160m: forecast to step 100000" in page and "forecast to step 166000" not in page
    assert (tmp_path / "report" / "figures" / "forecast-pythia-410m-arc_easy.png").stat().st_size > 1000
    assert watch_lines(Store(store), "pythia-410m", 83000)[-1] == (
        "forecast: pythia-410m reached its planned last step 83000; its final scores are stored")
    assert watch_lines(Store(store), "pythia-160m", 83000)[-1].startswith("forecast at step 100000: arc_easy")
