"""stability and report with the confidence rule, adaptive windows and their settings, on a hand-written store."""

import json

from tests.analysis.test_stability import store  # noqa: F401  (the hand-written store fixture)


def stability_json(cli, store, *flags):  # noqa: F811
    code, out, err = cli("stability", "--store", store.root, "--last", 0.5, "--windows", "2", "--bootstrap", 0,
                         "--format", "json", *flags)
    assert code == 0, err
    return json.loads(out)


def test_adaptive_rule_and_settings_reach_the_table(cli, store):  # noqa: F811
    rows = stability_json(cli, store, "--rules", "vote,confidence")
    methods = {r["method"] for r in rows if r["task"] == "facts"}
    assert {"ensemble-confidence", "adaptive-ensemble-confidence", "adaptive-average"} <= methods
    # every window's example MTV is at most 1, so a target of 1 is reached by the raw checkpoints themselves
    rows = stability_json(cli, store, "--adaptive", "target", "--mtv-target", 1.0)
    assert {r["window"] for r in rows if r["method"].startswith("adaptive-")} == {1}
    rows = stability_json(cli, store, "--adaptive", "none")
    assert not any(r["method"].startswith("adaptive-") for r in rows)


def test_bad_adaptive_settings_are_one_line_errors(cli, store):  # noqa: F811
    code, _, err = cli("stability", "--store", store.root, "--lag-weight", -1)
    assert code == 2 and "must not be negative" in err and "Traceback" not in err
    code, _, err = cli("report", "--store", store.root, "--out", store.root / "r", "--rules", "median")
    assert code == 2 and "unknown ensemble rule 'median'" in err


def test_report_takes_the_rules_and_the_adaptive_settings(cli, store, tmp_path):  # noqa: F811
    out = tmp_path / "report"
    code, _, err = cli("report", "--store", store.root, "--out", out, "--last", 0.5, "--windows", "2", "--rules",
                       "confidence", "--adaptive", "target", "--mtv-target", 0.2)
    assert code == 0, err
    rows = json.loads((out / "stability.json").read_text())
    assert {r["method"] for r in rows if r["task"] == "facts"} >= {"ensemble-confidence", "adaptive-average"}
    assert "the smallest window whose example MTV is at most 0.2" in (out / "report.html").read_text()
    assert (out / "failures.json").is_file() and (out / "lag_flags.csv").is_file()
