"""Published-Pythia-format results (written here) through import, stability and capabilities, checked directly."""

import json

import numpy as np
import pytest

STEPS = [0, 1000, 3000, 13000, 23000, 33000, 43000, 53000, 63000, 73000, 83000, 93000, 100000]
TASKS = ("arc_easy", "piqa", "lambada_openai")


def write_pythia_files(folder, size: str, seed: int) -> dict:
    """Old lm-eval results files, one per step, as the Pythia suite published them; returns the accuracies."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True)
    acc = {task: {} for task in TASKS}
    for step in STEPS:
        results = {}
        for task in TASKS:
            acc[task][step] = float(0.3 + 0.3 * step / STEPS[-1] + rng.normal(0, 0.01))
            results[task] = {"acc": acc[task][step], "acc_stderr": 0.01}
        results["lambada_openai"]["ppl"] = float(60 - 50 * step / STEPS[-1])
        config = {"model": "hf-causal", "model_args": f"pretrained=EleutherAI/pythia-v1.1-{size},revision=step{step}",
                  "num_fewshot": 0}
        payload = {"results": results, "versions": {}, "config": config}
        (folder / f"{size}_step{step}.json").write_text(json.dumps(payload))
    return acc


def direct_mtv(values: dict, last: float = 0.2) -> float:
    steps = [s for s in sorted(values) if s >= (1 - last) * max(values)]
    return float(np.mean(np.abs(np.diff([values[s] for s in steps]))))


@pytest.fixture
def pythia(tmp_path, cli):
    truth = {}
    for seed, size in enumerate(("70m", "410m", "1.4b")):
        truth[size] = write_pythia_files(tmp_path / size / "zero-shot", size, seed)
        code, _, err = cli("import", "lm-eval", tmp_path / size / "zero-shot", "--store", tmp_path / "store",
                           "--run", f"pythia-{size}")
        assert code == 0, err
    return tmp_path / "store", truth


def test_task_mtv_matches_the_files(cli, pythia):
    store, truth = pythia
    code, out, err = cli("stability", "--store", store, "--format", "json")
    assert code == 0, err
    rows = {(r["run"], r["task"]): r for r in json.loads(out)}
    for size, acc in truth.items():
        for task in TASKS:
            row = rows[(f"pythia-{size}", task)]
            assert row["task_mtv"] == pytest.approx(direct_mtv(acc[task]))
            assert row["example_mtv"] is None and row["first_step"] == 83000


def test_capabilities_on_pythia_files(cli, pythia, tmp_path):
    store, _ = pythia
    code, _, err = cli("capabilities", "--store", store, "--out", tmp_path / "cap")
    assert code == 0, err
    dynamics = (tmp_path / "cap" / "dynamics.csv").read_text().splitlines()
    header = dynamics[0].split(",")
    lambada = [dict(zip(header, line.split(","))) for line in dynamics[1:] if ",lambada_openai," in line]
    assert len(lambada) == 3 and all(float(r["loss_correlation"]) < -0.9 for r in lambada)  # vs log perplexity
    assert {r["run"]: int(r["n_params"]) for r in lambada}["pythia-410m"] == 410_000_000


def test_tasks_well_above_chance_count_in_the_means(cli, pythia):
    """The Pythia files hold no example count: the known benchmark sizes stand in, so arc_easy at 0.6 (chance
    0.25) is learned, and every task of every size counts in the mean over tasks."""
    store, truth = pythia
    code, out, err = cli("stability", "--store", store, "--format", "json")
    assert code == 0, err
    rows = json.loads(out)
    assert not any(r["near_chance"] for r in rows) and all(r["note"] is None for r in rows)
    from ckptlens.analysis.stability import StabilityConfig, stability_table, summarise
    from ckptlens.store import Store

    summary = summarise(stability_table(Store(store), StabilityConfig()))
    assert {(s["run"], s["n_tasks"]) for s in summary} == {(f"pythia-{size}", len(TASKS)) for size in truth}
