"""The report's linearity part: CSVs, a drift figure when recorded, and sentences for the failing windows."""

import csv
import re

from ckptlens.analysis.linearity import GapSummary, summarise_gaps
from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report.data import ReportConfig, analyse
from ckptlens.report.html import Page
from ckptlens.report.linearity import linearity_findings, linearity_section
from ckptlens.store import drift_table
from tests.analysis.test_linearity import store  # noqa: F401  (the hand-computed store fixture)


def summary(task, gap, noise, window=4):
    return GapSummary("run", task, window, 10, gap, abs(gap), None, noise, None, abs(gap) <= noise)


def test_findings_name_each_failing_window_and_its_direction():
    findings = linearity_findings([summary("a", 0.01, 0.02), summary("b", 0.05, 0.02), summary("c", -0.04, 0.01)])
    assert len(findings) == 2
    assert findings[0].startswith("run / b, window 4: the average scores 0.050 above")
    assert "better region" in findings[0]
    assert findings[1].startswith("run / c, window 4: the average scores 0.040 below") and "barrier" in findings[1]


def test_findings_group_the_windows_of_a_task():
    found = linearity_findings([summary("a", 0.05, 0.02, 2), summary("a", 0.09, 0.02, 8), summary("a", -0.01, 0.02)])
    assert found == ["run / a, windows 2, 8: the averages score 0.050 to 0.090 above the mean of their members (noise "
                     "0.020): better than their members; the average sits in a better region than any of them."]


def test_findings_when_everything_holds_or_nothing_was_averaged():
    assert "Every average scores like the mean of its members" in linearity_findings([summary("a", 0.01, 0.02)])[0]
    assert "No averaged runs" in linearity_findings([])[0]


def test_section_writes_tables_and_the_recorded_drift_figure(store, tmp_path):  # noqa: F811
    store.write_drift("base", drift_table([dict(step_a=10, step_b=20, module="all", l2=1.0, relative_l2=0.1,
                                                 cosine=0.9)]))
    page = Page("t")
    data = analyse(store, ReportConfig(StabilityConfig(last=1.0, windows=(2,))), tmp_path)
    linearity_section(page, data)
    summaries = summarise_gaps(data.linearity)
    with (tmp_path / "linearity_summary.csv").open() as f:
        assert [(r["task"], r["holds"]) for r in csv.DictReader(f)] == [(s.task, str(s.holds)) for s in summaries]
    assert (tmp_path / "figures" / "base__drift.png").is_file()
    html = page.render()
    assert "<summary>Is an average better or worse than its members?</summary>" in html
    assert "base / recall, window 2: the average scores 0.750 above" in html and "data:image/png" in html
    assert "better than its members" in html and "<td>better</td>" in html
    words = re.sub(r"data:image/png;base64,[^']*", "", html)
    assert "holds" not in words and "NO" not in words
