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
