"""Runs holding different task sets are compared over one shared set, named on the page, in size order."""

import csv
import re

import pytest

from ckptlens.report import write_report
from tests.report.pythia_like import SIZES, pythia_like_store

SHARED = ("arc_easy", "lambada_openai", "piqa", "sciq")  # winogrande: at chance for 70m and 160m; arc_challenge too


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    folder = tmp_path_factory.mktemp("compared")
    return write_report(pythia_like_store(folder), folder / "report")


def test_every_runs_mean_is_over_the_one_shared_set(report):
    raw = {(r.run, r.task): r for r in report.rows if r.method == "raw"}
    learned = {run: {t for (r, t), row in raw.items() if r == run and not row.near_chance} for run, _ in raw}
    assert learned["pythia-70m"] == set(SHARED) and len(learned["pythia-12b"]) == 6  # the sets do differ
    with (report.html.parent / "summary.csv").open() as f:
        summary = list(csv.DictReader(f))
    assert [r["run"] for r in summary] == [f"pythia-{s}" for s in SIZES]  # one raw row per run, by size
    for row in summary:
        assert int(row["n_tasks"]) == len(SHARED)
        direct = sum(raw[(row["run"], t)].mean_score for t in SHARED) / len(SHARED)
        assert float(row["mean_score"]) == pytest.approx(direct)
    all_learned = sum(raw[("pythia-12b", t)].mean_score for t in learned["pythia-12b"]) / 6
    assert all_learned != pytest.approx(float(summary[-1]["mean_score"]))  # the shared set changes the number


def test_the_page_names_the_set_and_orders_runs_by_size(report):
    page = report.html.read_text()
    assert f"<b>Tasks in these means:</b> {', '.join(SHARED)}." in page
    assert "averaged over the same 4 tasks that every run has above chance" in page
    rows = re.findall(r"data-ref='mean:([^:]+):raw:1:run'", page)
    assert rows == [f"pythia-{s}" for s in SIZES]
    assert "<summary>26 near chance</summary>" in page  # 24 MMLU subjects, arc_challenge and winogrande, folded
    learned = re.findall(r"<summary>\d+ above chance</summary>([^<]*)</details>", page)
    assert len(learned) == 7 and not any("hendrycksTest" in tasks for tasks in learned)


def test_tasks_chosen_on_the_command_line_are_the_set_and_get_one_figure_each(cli, report, tmp_path):
    store = report.html.parent.parent / "store"
    code, _, err = cli("report", "--store", store, "--out", tmp_path / "r", "--tasks", "piqa,winogrande,arc_easy")
    assert code == 0, err
    page = (tmp_path / "r" / "report.html").read_text()
    assert "<b>Tasks in these means:</b> piqa, arc_easy." in page  # in their order; winogrande: near chance in 70m
    assert "chosen with --tasks" in page
    assert sorted(p.name for p in (tmp_path / "r" / "figures").glob("by_size__*")) == [
        "by_size__arc_easy.png", "by_size__piqa.png", "by_size__winogrande.png"]
    code, _, err = cli("report", "--store", store, "--out", tmp_path / "r2", "--tasks", "nope")
    assert code == 2 and "--tasks nope: not in the store" in err
