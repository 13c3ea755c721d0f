"""The capability analysis on small Pythia-shaped results written here (no shared data needed)."""

import numpy as np
import pytest

from ckptlens.analysis.capabilities import CapabilityConfig, capability_analysis
from ckptlens.analysis.dynamics import milestone, phases, smooth
from ckptlens.analysis.scaling import kendall_tau, shape_similarity, signal_to_noise
from ckptlens.errors import CkptlensError
from ckptlens.store import Store, aggregates_table

STEPS = [0, 1000, 2000, 4000, 8000, 16000, 32000, 64000, 72000, 80000, 90000, 100000]
SIZES = {"small": 70_000_000, "mid": 410_000_000, "large": 1_400_000_000}


def write_run(store: Store, run: str, ceiling: float, noise_seed: int) -> None:
    rng = np.random.default_rng(noise_seed)
    for step in STEPS:
        rise = ceiling * (1 - np.exp(-step / 15000))
        rows = [
            {"run": run, "checkpoint": f"step{step}", "step": step, "task": "arc_easy", "metric": "acc",
             "value": 0.25 + rise + rng.normal(0, 0.002)},
            {"run": run, "checkpoint": f"step{step}", "step": step, "task": "piqa", "metric": "acc",
             "value": 0.5 + rise / 2 + rng.normal(0, 0.002)},
            {"run": run, "checkpoint": f"step{step}", "step": step, "task": "lambada_openai", "metric": "ppl",
             "value": float(np.exp(6 - 4 * rise))},
        ]
        store.write_aggregates(run, f"step{step}", aggregates_table(rows))
    store.write_run_info(run, {"n_params": SIZES[run]})


@pytest.fixture
def store(tmp_path):
    store = Store(tmp_path)
    for seed, (run, ceiling) in enumerate({"small": 0.1, "mid": 0.2, "large": 0.3}.items()):
        write_run(store, run, ceiling, seed)
    return store


def test_runs_by_size_and_dynamics(store):
    cap = capability_analysis(store, CapabilityConfig(align="step"))
    assert cap.runs == ["small", "mid", "large"]
    large_arc = next(d for d in cap.dynamics if d["run"] == "large" and d["task"] == "arc_easy")
    assert large_arc["category"] == "science-qa" and large_arc["gain"] == pytest.approx(0.3 * (1 - np.exp(-100 / 15)),
                                                                                           abs=0.01)
    assert large_arc["step_50"] < large_arc["step_90"] <= 100000
    assert 0 < large_arc["task_mtv_last"] < 0.01  # steps 80000..100000: noise of 0.002 per checkpoint
    assert large_arc["phase_late"] == "plateau" and large_arc["monotonicity"] > 0.5
    assert large_arc["loss_correlation"] < -0.9  # score rises as LAMBADA perplexity falls


def test_similarity_ranking_and_snr(store):
    cap = capability_analysis(store)
    overall = [s for s in cap.similarity if s["category"] == "all"]
    assert len(overall) == 3 and all(s["correlation"] > 0.95 for s in overall)  # one shape, three heights
    final_tau = [r["kendall_tau"] for r in cap.ranking if r["task"] == "arc_easy" and r["step"] == 100000]
    assert final_tau == [1.0]
    late = next(r for r in cap.snr if r["task"] == "arc_easy" and r["stretch"] == "late")
    assert late["n_runs"] == 3 and late["snr"] > 1
    assert cap.recommendations and cap.recommendations[0].startswith("watch ")


def test_category_curves_average_the_tasks_of_a_category(store):
    cap = capability_analysis(store, CapabilityConfig(align="fraction"))
    row = next(r for r in cap.category_curves if r["run"] == "mid" and r["category"] == "commonsense"
               and r["step"] == 100000)
    assert row["x"] == 1.0 and row["n_tasks"] == 1


def test_a_final_window_with_one_checkpoint_has_no_mtv(tmp_path):
    store = Store(tmp_path)
    for step, value in ((0, 0.3), (50000, 0.5), (100000, 0.6)):
        row = {"run": "r", "checkpoint": f"s{step}", "step": step, "task": "sciq", "metric": "acc", "value": value}
        store.write_aggregates("r", f"s{step}", aggregates_table([row]))
    (row,) = capability_analysis(store).dynamics
    assert row["task_mtv_last"] is None and row["gain"] == pytest.approx(0.3)


def test_no_curves_is_a_clear_error(tmp_path):
    with pytest.raises(CkptlensError, match="no task with at least 2 checkpoints"):
        capability_analysis(Store(tmp_path), CapabilityConfig(metric="acc"))


def test_pure_pieces():
    x = np.linspace(0, 1, 11)
    assert phases(x, -x)[-1] == "decline"
    assert smooth(np.array([0.0, 3.0, 0.0]), 3).tolist() == [1.5, 1.0, 1.5]
    assert milestone(x, np.ones(11), 0.5) is None
    assert kendall_tau([1, 2, 3, 4], [1, 3, 2, 4]) == pytest.approx(4 / 6)
    assert shape_similarity(x, x, x * 2, x * 10) == pytest.approx(1.0)  # same shape on the shared range
    signal, noise, ratio = signal_to_noise([np.array([0.2, 0.21]), np.array([0.4, 0.39])])
    assert (signal, noise, ratio) == pytest.approx((0.095, 0.01, 9.5))  # std of means 0.205 and 0.395


def test_a_task_at_chance_in_every_size_is_never_one_to_watch(tmp_path):
    """winogrande sits at chance (0.5, 1267 examples: 5-point margin) in both sizes, 3 points apart with little
    noise, so its signal-to-noise ratio is the highest; it is still not recommended, arc_easy is."""
    store = Store(tmp_path)
    rng = np.random.default_rng(0)
    for run, offset in (("small", 0.0), ("large", 0.03)):
        for step in STEPS:
            rows = [{"run": run, "checkpoint": f"step{step}", "step": step, "task": task, "metric": "acc",
                     "value": value + rng.normal(0, 0.001)}
                    for task, value in (("winogrande", 0.5 + offset), ("arc_easy", 0.3 + step / 400000 + offset))]
            store.write_aggregates(run, f"step{step}", aggregates_table(rows))
        store.write_run_info(run, {"n_params": SIZES[run]})
    cap = capability_analysis(store)
    wino = [d for d in cap.dynamics if d["task"] == "winogrande"]
    assert all(d["chance"] == 0.5 and d["near_chance"] for d in wino)
    assert not any(d["near_chance"] for d in cap.dynamics if d["task"] == "arc_easy")
    late = {r["task"]: r["snr"] for r in cap.snr if r["stretch"] == "late"}
    assert late["winogrande"] > late["arc_easy"]
    assert cap.recommendations[0].startswith("watch arc_easy") and not any(
        line.startswith("watch winogrande") for line in cap.recommendations)
