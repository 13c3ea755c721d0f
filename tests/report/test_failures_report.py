"""The report's failure and adaptive-window parts: visible warnings, tables, and every flag in CSV/JSON."""

import csv
import json

from ckptlens.analysis.failures import LagFlag
from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.failures import failure_rows
from tests.analysis.test_failures import three_way_store
from tests.analysis.test_stability import store  # noqa: F401  (the hand-written store fixture)


def test_report_shows_the_ensemble_worse_than_its_members(tmp_path):
    stability = StabilityConfig(last=1.0, windows=(2, 3), rules=("vote", "confidence"))
    report = write_report(three_way_store(tmp_path), tmp_path / "report", ReportConfig(stability=stability))
    page = report.html.read_text()
    assert "<summary>Where integration fails (2)</summary>" in page  # one table row per (task, method, window)
    assert ("<td class='l' data-ref='fail:base:facts:ensemble-vote:3:below:task'>facts</td>"
            "<td class='l' data-ref='fail:base:facts:ensemble-vote:3:below:method'>ensemble-vote</td>") in page
    assert "data-ref='fail:base:facts:ensemble-vote:3:below:by'>0.167</td>" in page  # worst member 0.667, it 0.500
    with (tmp_path / "report" / "ensemble_flags.csv").open() as f:
        flagged = [(r["method"], r["window"], r["step"]) for r in csv.DictReader(f)]
    assert flagged == [(m, "3", s) for m in ("ensemble-vote", "ensemble-confidence") for s in ("30", "40")]
    failures = json.loads((tmp_path / "report" / "failures.json").read_text())
    assert len(failures["ensemble_below_members"]) == 4 and failures["lag"] == []


def test_report_names_each_tasks_adaptive_window_and_the_folds_choices(store, tmp_path):  # noqa: F811
    report = write_report(store, tmp_path / "report", ReportConfig(stability=StabilityConfig(last=0.5, windows=(2,))))
    page = report.html.read_text()
    assert "<summary>Adaptive windows</summary>" in page and "Rule: minimise example MTV + 0.01 x lag" in page
    assert "<td class='l'>base</td><td class='l'>facts</td><td class='l'>average</td><td>2</td><td>2, 2</td>" in page
    with (tmp_path / "report" / "adaptive.csv").open() as f:
        criteria = [r for r in csv.DictReader(f) if r["task"] == "facts" and r["method"] == "average"]
    assert [(r["fold"], r["window"], r["chosen"]) for r in criteria] == [
        ("", "1", "False"), ("", "2", "True"), ("0", "1", "False"), ("0", "2", "True"), ("1", "1", "False"),
        ("1", "2", "True")]
    assert ("<td class='l' data-ref='mean:base:adaptive-average:per task:method'>adaptive-average</td>"
            "<td data-ref='mean:base:adaptive-average:per task:window'>per task</td>") in page  # the mean over tasks


def test_one_row_per_failure_of_a_learned_task_largest_first():
    lag = LagFlag("run", "t", "average", 8, 390, 0.99, 0.835, 0.155, 0.46, 0.011)
    later = LagFlag("run", "t", "average", 8, 400, 0.99, 0.9, 0.09, 0.46, 0.011)
    small = LagFlag("run", "u", "average", 2, 400, 0.99, 0.95, 0.04, 0.46, 0.011)
    near = LagFlag("run", "s", "average", 4, 410, 0.32, 0.29, 0.03, 0.05, 0.022, near_chance=True)
    rows = failure_rows([small, near, lag, later], [], with_run=False)
    assert [(r["task"], r["window"], r["what_failed"], r["by"], r["steps"]) for r in rows] == [
        ("t", 8, "lags a rising score", 0.155, "390, 400"), ("u", 2, "lags a rising score", 0.04, "400")]
    assert rows[0]["_ref"] == "fail:run:t:average:8:lag"
