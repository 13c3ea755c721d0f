"""``ckptlens forecast`` on imported Pythia-format results (written here), its refusals, and the watch health line."""

import json
from pathlib import Path

import numpy as np
import pytest
from rich.console import Console

STEPS = [1000, 3000, 13000, 23000, 33000, 43000, 53000, 63000, 73000, 83000]
SIZES = {"160m": 0.55, "410m": 0.45, "1.4b": 0.38}  # error rate at step 1000; it shrinks as (step/1000)^-0.3


def write_run(folder: Path, size: str, steps, seed: int, drop_at: int | None = None) -> None:
    """Old lm-eval results files, one per step, as the Pythia suite published them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    for step in steps:
        acc = 1 - SIZES[size] * (step / 1000) ** -0.3 + rng.normal(0, 0.004) - (0.08 if step == drop_at else 0)
        results = {"arc_easy": {"acc": acc, "acc_stderr": 0.01}, "piqa": {"acc": 0.5 + acc / 4, "acc_stderr": 0.01}}
        config = {"model": "hf-causal", "model_args": f"pretrained=EleutherAI/pythia-{size},revision=step{step}"}
        (folder / f"{size}_step{step}.json").write_text(json.dumps({"results": results, "config": config}))


def import_runs(cli, tmp_path, runs: dict) -> Path:
    store = tmp_path / "store"
    for run, (size, steps, drop_at) in runs.items():
        write_run(tmp_path / run, size, steps, seed=len(run), drop_at=drop_at)
        code, _, err = cli("import", "lm-eval", tmp_path / run, "--store", store, "--run", run)
        assert code == 0, err
    return store


@pytest.fixture
def ladder_store(cli, tmp_path):
    return import_runs(cli, tmp_path, {f"pythia-{s}": (s, STEPS, None) for s in SIZES})


def test_forecast_rows(cli, ladder_store):
    code, out, err = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-step", "150000",
                         "--format", "json")
    assert code == 0, err
    rows = {r["task"]: r for r in json.loads(out)}
    assert set(rows) == {"arc_easy", "piqa"}
    row = rows["arc_easy"]
    assert set(row) == {"run", "task", "metric", "step", "predicted", "lo", "hi", "method", "n_points", "note"}
    truth = 1 - SIZES["410m"] * 150 ** -0.3
    assert row["method"] == "ladder" and row["lo"] <= truth <= row["hi"] and abs(row["predicted"] - truth) < 0.02
    code, out, _ = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-step", "150000",
                       "--ladder", "none", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("run,task,metric,step,predicted,lo,hi,method")
    assert "within-run" in out
    code, out, err = cli("forecast", "--store", ladder_store, "--at-step", "150000", "--format", "json")
    assert code == 0 and len(json.loads(out)) == 6  # every run, every task


def test_backtest(cli, ladder_store):
    code, out, err = cli("forecast", "--store", ladder_store, "--backtest", "0.5", "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert len(rows) == 6 and all(r["cut_step"] == 41500 and r["step"] == 83000 for r in rows)
    for r in rows:
        assert r["error"] == pytest.approx(r["predicted"] - r["truth"])
        assert r["covered"] == (r["lo"] <= r["truth"] <= r["hi"])
    code, out, err = cli("forecast", "--store", ladder_store, "--backtest", "43000")
    assert code == 0, err
    assert "pairs above chance: MAE" in out and "last value" in out and "within-run fit" in out


def test_refusals(cli, ladder_store, tmp_path):
    code, _, err = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-step", "50000")
    assert code == 2 and "50000, is not after pythia-410m's last stored step 83000" in err and "--backtest" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    code, _, err = cli("forecast", "--store", ladder_store, "--at-tokens", "1e9")
    assert code == 2 and "--run" in err
    code, _, err = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-tokens", "1e9")
    assert code == 2 and "477, is not after" in err  # 2,097,152 tokens per step in the Pythia files
    code, out, err = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-tokens", "4e11",
                         "--format", "json")
    assert code == 0 and json.loads(out)[0]["step"] == round(4e11 / 2_097_152)
    code, _, err = cli("forecast", "--store", ladder_store, "--run", "pythia-410m", "--at-step", "90000",
                       "--ladder", "x")
    assert code == 2 and "--ladder names unknown run(s) x" in err


def test_too_few_checkpoints_without_siblings(cli, tmp_path):
    store = import_runs(cli, tmp_path, {"pythia-410m": ("410m", [1000, 13000, 23000], None)})
    code, _, err = cli("forecast", "--store", store, "--run", "pythia-410m", "--at-step", "100000")
    assert code == 2 and "needs 4" in err and "Traceback" not in err


def test_watch_prints_the_health_line_and_the_forecast(cli, tmp_path):
    from ckptlens.checkpoints import Checkpoint
    from ckptlens.cli.watching import refresh_after_each
    from ckptlens.evaluation.runner import EvalSummary
    from ckptlens.store import Store

    store = import_runs(cli, tmp_path, {"noisy": ("410m", STEPS, None), "dropped": ("410m", STEPS, 83000)})
    console = Console(record=True, width=200)
    for run in ("noisy", "dropped"):
        refresh = refresh_after_each(console, Store(store), None, run=run)
        refresh(Checkpoint("step83000", tmp_path / run / "step83000", 83000), EvalSummary(2, 0, 1))
    text = console.export_text()
    health = [line for line in text.splitlines() if line.startswith("health:")]
    assert len(health) == 1 and health[0].startswith("health: dropped/arc_easy at step 83000 drops")
    assert text.count("forecast at step 166000: arc_easy") == 2
