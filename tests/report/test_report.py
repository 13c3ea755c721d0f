"""The report page as a whole: one read of the store, its order, its tables and files."""

import csv
import re

import pytest

from ckptlens.analysis.stability import StabilityConfig, StabilityRow
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.html import Page
from ckptlens.store import Store, aggregates_table
from tests.analysis.test_stability import store  # noqa: F401  (base, its window-2 averages, a near-chance task)

CONFIG = ReportConfig(stability=StabilityConfig(last=0.5, windows=(2,)))


@pytest.fixture
def report(store, tmp_path):  # noqa: F811
    return write_report(store, tmp_path / "report", CONFIG)


def words(page: str) -> str:
    """The page without its embedded images."""
    return re.sub(r"data:image/png;base64,[^']*", "", page)


def test_the_report_reads_the_store_once(store, tmp_path, monkeypatch):  # noqa: F811
    calls = []
    read = Store.read
    monkeypatch.setattr(Store, "read", lambda self, *args, **kw: calls.append(args) or read(self, *args, **kw))
    write_report(store, tmp_path / "report", CONFIG)
    assert calls == [()]  # one read of every record; 9 reads before the report shared its matrices


def test_the_page_opens_with_the_run_the_window_and_a_verdict(report):
    page = words(report.html.read_text())
    order = ["<h1>Which checkpoint should I trust, and how unstable is my evaluation?</h1>",
             "<b>Final window</b></td><td>the last 50% of training: steps 30–50, 3 checkpoints",
             "<p class='verdict'>Over the final window (steps 30–50)", "<h2>Mean over tasks</h2>",
             "<h2>Raw against averaged and ensembled scores</h2>", "<h2>Stability per task</h2>",
             "<h2>What the numbers mean</h2>", "<h2>More detail</h2>"]
    assert [page.index(part) for part in order] == sorted(page.index(part) for part in order)
    assert "Averaging 2 checkpoints cuts these flips by 100%" in page
    assert "nothing to show" not in page


def test_every_number_shown_is_defined(report):
    box = re.search(r"<dl class='definitions'>(.*?)</dl>", report.html.read_text()).group(1)
    terms = re.findall(r"<dt>(.*?)</dt>", box)
    for term in ("final window", "[lo, hi]", "task MTV", "example MTV", "instability score (IS)", "std",
                 "relative std", "monotonicity", "flip fraction", "forgetting events", "near chance", "raw",
                 "average of n", "ensemble-vote of n", "ensemble-mean-logprob of n", "adaptive-&lt;method&gt;",
                 "noise", "lag", "McNemar p", "linearity gap"):
        assert term in terms
    assert "ensemble-confidence of n" not in terms  # not a method of this report
    assert "(1/(m−1)) Σ_t |s(t+1) − s(t)|" in box


def test_the_stability_table_shows_intervals_and_says_so_only_when_it_has_them(store, tmp_path):  # noqa: F811
    with_intervals = words(write_report(store, tmp_path / "a", CONFIG).html.read_text())
    assert "[lo, hi] after a number is its 95% bootstrap interval" in with_intervals
    assert re.search(r"<td>0\.\d{3} \[0\.\d{3}, 0\.\d{3}\]</td>", with_intervals)
    plain = ReportConfig(stability=StabilityConfig(last=0.5, windows=(2,), bootstrap=0))
    without = words(write_report(store, tmp_path / "b", plain).html.read_text())
    assert "[lo, hi]" not in without and not re.search(r"\d \[0\.\d{3}", without)


def test_every_window_and_rule_of_the_table_is_drawn(report):
    with (report.html.parent / "trajectories.csv").open() as f:
        drawn = {(r["task"], r["method"], r["window"]) for r in csv.DictReader(f)}
    table = {(r.task, r.method, str(r.window)) for r in report.rows if not r.method.startswith("adaptive")}
    assert table <= drawn and ("facts", "average", "2") in drawn
    alt = re.search(r"alt='(base / facts: task score[^']*)'", report.html.read_text()).group(1)
    assert "average of 2" in alt and "ensemble-vote of 2" in alt and "ensemble-mean-logprob of 2" in alt


def test_every_csv_has_its_header_even_without_rows(report):
    folder = report.html.parent
    files = sorted(folder.glob("*.csv"))
    assert {f.name for f in files} >= {"stability.csv", "ensemble_flags.csv", "lag_flags.csv", "adaptive.csv",
                                       "selection.csv", "linearity.csv", "best_checkpoints.csv"}
    for path in files:
        assert path.read_text().splitlines()[0], f"{path.name} has no header"
    with (folder / "lag_flags.csv").open() as f:  # nothing lags here
        reader = csv.DictReader(f)
        assert list(reader) == [] and "shortfall" in reader.fieldnames
    with (folder / "stability.csv").open() as f:
        assert csv.DictReader(f).fieldnames == list(StabilityRow.__dataclass_fields__)


def test_each_section_folds_away_and_opens_with_its_question(report):
    page = words(report.html.read_text())
    sections = re.findall(r"<details><summary>(.*?)</summary><p class='question'>(.*?)</p>", page)
    assert len(sections) == page.count("<details") - page.count("<details class='inline'") >= 6
    assert all(question.endswith("?") for _, question in sections)
    titles = [title for title, _ in sections]
    assert "Is the best raw checkpoint better than its neighbours?" in titles and "Adaptive windows" in titles


def test_an_empty_section_is_left_out_and_a_table_without_rows_writes_nothing():
    page = Page("t")
    page.section("Empty", "Is anything here?").table(["a"], [])
    page.section("Full", "Is this here?").text("yes, with `code`")
    html = page.render()
    assert "Empty" not in html and "<summary>Full</summary>" in html and "<code>code</code>" in html


def test_task_level_imports_get_a_verdict_and_no_empty_parts(tmp_path):
    imported = Store(tmp_path / "store")
    for step, value in {0: 0.25, 8000: 0.50, 9000: 0.58, 10000: 0.52}.items():
        row = {"run": "p", "checkpoint": f"step{step}", "step": step, "task": "mytask", "metric": "acc", "value": value}
        imported.write_aggregates("p", f"step{step}", aggregates_table([row]))
    report = write_report(imported, tmp_path / "report", ReportConfig())
    page = words(report.html.read_text())
    text = re.sub(r"<[^>]+>", "", page)
    assert "the raw task score moves by 0.070" in text and "the store has no per-example records" in text
    assert "data-cite='mean:p:raw:1:task_mtv'>0.070</b>" in page
    assert "data-ref='mean:p:raw:1:task_mtv'>0.070</td>" in page
    assert page.count("<img") == 1 and "score by training step of p, final window shaded" in page  # by category
    assert "nothing to show" not in page and "[lo, hi]" not in page
    assert all(path.read_text().splitlines()[0] for path in report.html.parent.glob("*.csv"))


def test_the_raw_curve_covers_all_of_training(report):
    with (report.html.parent / "trajectories.csv").open() as f:
        raw = [int(r["step"]) for r in csv.DictReader(f) if (r["task"], r["method"]) == ("facts", "raw")]
    assert raw == [10, 20, 30, 40, 50]
