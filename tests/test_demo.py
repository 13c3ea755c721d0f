"""End to end: the demo pipeline on the tiny configuration (pretrain, eval, average, ensemble, report)."""

import json

from ckptlens.demo import DemoConfig, run_demo
from ckptlens.pretrain import PretrainConfig
from ckptlens.store import Store

CONFIG = DemoConfig(pretrain=PretrainConfig.tiny(), windows=(2, 4), tasks=("capital_choice", "sum_choice"))


def test_tiny_demo_end_to_end_then_resume(tmp_path):
    stages = []
    report = run_demo(tmp_path, CONFIG, progress=lambda stage, done, total: stages.append(stage))
    assert {"pretrain", "evaluate checkpoints", "average n=2", "evaluate averages n=4"} <= set(stages)
    assert len(list((tmp_path / "series").glob("step*"))) == 10
    assert (tmp_path / "report" / "report.html").is_file()
    rows = json.loads((tmp_path / "report" / "stability.json").read_text())
    methods = {(r["task"], r["method"], r["window"]) for r in rows}
    for task in ("capital_choice", "sum_choice"):
        assert {(task, "raw", 1), (task, "average", 2), (task, "average", 4), (task, "ensemble-vote", 4)} <= methods
    assert all(r["n_checkpoints"] >= 2 and 0 <= r["example_mtv"] <= 1 for r in rows)
    drift = Store(tmp_path / "store").read_drift("tiny").to_pylist()
    assert sorted({r["step_b"] for r in drift}) == list(range(8, 41, 4))  # every neighbour pair of the 10 checkpoints
    summary = json.loads((tmp_path / "summary.json").read_text())  # what the README's demo numbers are read from
    assert summary["means"] == json.loads(json.dumps(report.summary)) and summary["created"] and summary["machine"]
    assert set(summary["tasks"]) == {"capital_choice", "sum_choice"} and summary["final_window"]["last_step"] == 40
    html = (tmp_path / "report" / "report.html").read_text()
    assert "Is an average better or worse than its members?" in html and "parameter drift" in html

    written = {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*.parquet")}
    again_stages = []
    again = run_demo(tmp_path, CONFIG, progress=lambda stage, done, total: again_stages.append(stage))
    assert "pretrain" not in again_stages  # the finished series is reused
    assert {p: p.stat().st_mtime_ns for p in (tmp_path / "store").rglob("*.parquet")} == written  # nothing redone
    assert [r.to_dict() for r in again.rows] == [r.to_dict() for r in report.rows]
