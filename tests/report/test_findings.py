"""The findings section says what the numbers beside it say."""

import csv

from ckptlens.analysis.probability_dynamics import DynamicsSummary
from ckptlens.analysis.stability import StabilityConfig, StabilityRow
from ckptlens.analysis.stability_phases import reductions
from ckptlens.report import ReportConfig, write_report
from ckptlens.report.findings import ensemble_answer, phase_answer
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


def _row(task: str, method: str, window: int, phase: int, mtv: float, lo: float, hi: float) -> StabilityRow:
    return StabilityRow(run="r", task=task, category="c", method=method, window=window, n_checkpoints=5,
                        first_step=10 * phase, last_step=10 * phase + 40, n_examples=100, mean_score=0.8,
                        task_mtv=0.01, example_mtv=mtv, instability_score=mtv, std=0.01, relative_std=0.01,
                        monotonicity=0.0, flip_fraction=0.1, forgetting_events=1, chance=0.25, near_chance=False,
                        example_mtv_lo=lo, example_mtv_hi=hi, phase=phase)


def test_a_phase_cut_inside_raws_interval_is_not_called_clear():
    rows = [_row("a", "raw", 1, 1, 0.10, 0.02, 0.20), _row("a", "ensemble-vote", 4, 1, 0.05, 0.01, 0.12)]
    for task in ("a", "b"):  # phase 2: both multiple-choice tasks clearly below raw
        rows += [_row(task, "raw", 1, 2, 0.20, 0.15, 0.25), _row(task, "ensemble-vote", 4, 2, 0.05, 0.03, 0.08),
                 _row(task, "ensemble-mean-logprob", 4, 2, 0.06, 0.04, 0.09)]
    # a generation task has no mean-logprob ensemble: not in the phase's means, so not counted among its tasks
    rows += [_row("gen", "raw", 1, 2, 0.30, 0.25, 0.35), _row("gen", "ensemble-vote", 4, 2, 0.01, 0.0, 0.02)]
    text = phase_answer(reductions(rows), rows)
    assert text.startswith("Through training: the best method cuts example MTV by at least 20% in every phase "
                           "measured, clearly (interval below raw's in most tasks) in phase(s) 2 only")
    assert "0.100 → 0.050 (-50%; below raw's interval in 0 of 1 tasks)" in text
    assert "0.200 → 0.050 (-75%; below raw's interval in 2 of 2 tasks)" in text


def _summary(task: str, low: tuple[int, int], high: tuple[int, int]) -> DynamicsSummary:
    return DynamicsSummary(run="r", task=task, first_step=390, last_step=480, n_examples=200, n_pairs=1800,
                           flip_rate=0.1, spearman=-0.4, spearman_lo=-0.45, spearman_hi=-0.35, window=4,
                           removed_low=low[0] / low[1], removed_high=high[0] / high[1], raw_flips_low=low[1],
                           raw_flips_high=high[1], removed_flips_low=low[0], removed_flips_high=high[0])


def test_the_ensemble_answer_says_where_the_removed_flips_are_pooled_over_tasks():
    # the full demo's counts: a larger share of the few large-margin flips is removed (one task has a single one),
    # but nearly all the flips the ensemble removes are small-margin ones
    demo = [_summary("a", (42, 49), (4, 4)), _summary("b", (192, 225), (19, 19)), _summary("c", (141, 162), (1, 1))]
    text = ensemble_answer(demo)
    assert "removes 375 of 436 (86% [82%, 89%]) raw flips below the median |margin| and 24 of 24" in text
    assert "94% of the flips it removes are of small-margin pairs" in text and "mostly low-margin ones" in text
    assert "do not differ clearly (intervals overlap)" in text
    clear = ensemble_answer([_summary("a", (50, 100), (95, 100))])
    assert "mostly high-margin ones" in clear and "a larger share of the large-margin flips" in clear
