"""The report's failure and adaptive-window parts: visible warnings, tables, and every flag in CSV/JSON."""

import csv
import json

from ckptlens.analysis.failures import LagFlag
from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.failures import failure_findings
from tests.analysis.test_failures import three_way_store
from tests.analysis.test_stability import store  # noqa: F401  (the hand-written store fixture)


def test_report_shows_the_ensemble_worse_than_its_members(tmp_path):
    stability = StabilityConfig(last=1.0, windows=(2, 3), rules=("vote", "confidence"))
    report = write_report(three_way_store(tmp_path), tmp_path / "report", ReportConfig(stability=stability))
    page = report.html.read_text()
    assert "<summary>Where integration fails</summary>" in page
    top_warning = page.index("trail a rising score or score below their members")  # above the fold, not hidden
    assert top_warning < page.index("Stability per task")
    assert ("<p class='warning'>base / facts, ensemble-vote of 3 scores below every member at step(s) 30, 40: "
            "0.500 against a worst member of 0.667") in page
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
    assert "<td class='l'>adaptive-average</td><td>per task</td>" in page  # the mean over tasks


def test_findings_put_learned_tasks_first_and_count_the_rest():
    lag = LagFlag("run", "t", "average", 8, 390, 0.99, 0.835, 0.155, 0.46, 0.011)
    near = LagFlag("run", "s", "average", 4, 410, 0.32, 0.29, 0.03, 0.05, 0.022, near_chance=True)
    findings = failure_findings([near, lag], [])
    assert findings[0].startswith("run / t, average of 8 lags a rising curve at step(s) 390: up to 0.155 below")
    assert findings[1].startswith("1 more flagged (method, window) pair(s) on tasks near chance")
    assert failure_findings([], [])[0].startswith("No step flagged")
