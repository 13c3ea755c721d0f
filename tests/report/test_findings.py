"""The findings section says what the numbers beside it say."""

import csv

from ckptlens.analysis.stability import StabilityConfig
from ckptlens.report import ReportConfig, write_report
from tests.analysis.test_probability_dynamics import store  # noqa: F401  (examples near the boundary flip)


def test_findings_quote_the_margin_and_phase_numbers(store, tmp_path):  # noqa: F811
    config = ReportConfig(stability=StabilityConfig(last=0.5, windows=(2, 4), bootstrap=100, adaptive=None))
    report = write_report(store, tmp_path / "report", config)
    page = report.html.read_text()
    summary = next(csv.DictReader((tmp_path / "report" / "margin_summary.csv").open()))
    rho = float(summary["spearman"])
    assert rho < 0 and f"facts ρ = {rho:.2f} [{float(summary['spearman_lo']):.2f}" in page
    assert "a small |margin| predicts a flip in 1 of 1 tasks" in page
    phases = list(csv.DictReader((tmp_path / "report" / "phase_reductions.csv").open()))
    last = max((r for r in phases if r["phase"] == "5" and r["method"] != "raw"),
               key=lambda r: float(r["example_mtv_reduction"]))
    assert f"{float(last['raw_example_mtv']):.3f} → {float(last['example_mtv']):.3f}" in page
    assert "Instability through training" in page and "ρ(|margin|, flip)" in page  # section and definition
