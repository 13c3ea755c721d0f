"""The Ray executor on a local two-CPU cluster: the local executor's records (also for lm-eval's tasks), a killed
worker retried.

One Ray session serves the module: starting one takes seconds on two cores.
"""

import pyarrow.parquet as pq
import pytest
import ray

from ckptlens.checkpoints import discover_series
from ckptlens.evaluation.evaluate import SeriesOptions, evaluate
from ckptlens.evaluation.ray_executor import RayOptions, evaluate_on_ray
from ckptlens.evaluation.runner import EvalConfig, EvalSummary, evaluate_series
from ckptlens.pretrain import PretrainConfig, pretrain
from ckptlens.store import Store
from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks
from ckptlens.tasks.resolve import resolve_tasks
from tests.evaluation.ray_hooks import KillFirstLoad
from tests.evaluation.same_records import assert_same_records, sorted_records

TASKS = ["capital_choice", "capital_recall"]  # multiple choice and generation, 200 examples each
STEPS = "8:40:16"  # 3 of the tiny demo's 10 checkpoints
CPU = EvalConfig(device="cpu")


@pytest.fixture(scope="module")
def ray_session():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def demo_series(tmp_path_factory):
    """The tiny demo run's series (10 checkpoints, the demo world's tasks in ``tasks/``)."""
    return pretrain(PretrainConfig.tiny(), tmp_path_factory.mktemp("demo") / "series")


@pytest.fixture(scope="module")
def local_store(demo_series, tmp_path_factory, one_thread):
    """The local executor's records for STEPS x TASKS: what Ray must reproduce."""
    store = Store(tmp_path_factory.mktemp("local"))
    evaluate(demo_series, TASKS, store, config=CPU, series=SeriesOptions(steps=STEPS))
    return store


def store_files(store):
    """Every file under the store (records, run info): no shard, claim or temporary file may be left."""
    return sorted(p.relative_to(store.root) for p in store.root.rglob("*") if p.is_file())


def test_ray_gives_the_local_executors_records(demo_series, local_store, ray_session, tmp_path, cli):
    store, progress = Store(tmp_path / "ray"), []
    options = SeriesOptions(steps=STEPS)
    summary = evaluate(demo_series, TASKS, store, config=CPU, series=options, cluster=RayOptions(),
                       progress=lambda done, total: progress.append((done, total)))
    assert summary == EvalSummary(units_done=6, units_skipped=0, models_loaded=6)
    assert progress == [(i, 6) for i in range(1, 7)]
    assert sorted_records(store.read()).equals(sorted_records(local_store.read()))
    assert store_files(store) == store_files(local_store)
    for path in store.root.rglob("*.parquet"):  # each unit file identical, rows in example order
        assert pq.read_table(path).equals(pq.read_table(local_store.root / path.relative_to(store.root)))

    again = evaluate(demo_series, TASKS, store, config=CPU, series=options, cluster=RayOptions())
    assert again == EvalSummary(units_done=0, units_skipped=6, models_loaded=0)

    sharded = tmp_path / "sharded"
    code, out, err = cli("eval", demo_series, "--tasks", ",".join(TASKS), "--steps", STEPS, "--store", sharded,
                         "--device", "cpu", "--executor", "ray", "--shard-size", "64", "--max-retries", "1")
    assert code == 0, err
    assert "evaluated 6 (checkpoint, task) units" in err
    assert store_files(Store(sharded)) == store_files(local_store)  # 4 shards per unit merged, none left over
    for path in local_store.root.rglob("*.parquet"):
        assert_same_records(pq.read_table(sharded / path.relative_to(local_store.root)), pq.read_table(path))


def test_a_worker_killed_mid_unit_is_retried_and_every_record_stored_once(demo_series, ray_session, tmp_path):
    series = discover_series(demo_series)[-2:]
    tasks = resolve_tasks(["capital_choice"], demo_series)
    store, expected = Store(tmp_path / "ray"), Store(tmp_path / "local")
    config = EvalConfig(device="cpu", shard_size=100)  # 2 shards per unit
    summary = evaluate_on_ray(series, tasks, store, "tiny", config, RayOptions(max_retries=2),
                              load=KillFirstLoad(tmp_path / "killed"))
    assert (tmp_path / "killed").is_file()
    assert (summary.units_done, summary.units_skipped) == (2, 0)
    keys = [(r["checkpoint"], r["example_id"]) for r in store.read().to_pylist()]
    assert len(keys) == len(set(keys)) == 2 * 200
    evaluate_series(series, tasks, expected, "tiny", CPU)
    assert_same_records(sorted_records(store.read()), sorted_records(expected.read()))
    assert [str(p) for p in store_files(store)] == [f"records/tiny/capital_choice/{c.name}.parquet" for c in series]


def test_lm_eval_tasks_on_ray_give_the_local_records(tiny_series, lm_eval_include, ray_session, tmp_path, one_thread):
    # multiple choice, and generation judged by lm-eval's regex filters on the worker; built once, here
    tasks = build_lm_eval_tasks(["arc_easy", "gsm8k"], LmEvalOptions((str(lm_eval_include),), limit=3))
    local, on_ray, options = Store(tmp_path / "local"), Store(tmp_path / "ray"), SeriesOptions(steps="10,20")
    evaluate(tiny_series, tasks, local, config=CPU, series=options)
    summary = evaluate(tiny_series, tasks, on_ray, config=CPU, series=options, cluster=RayOptions())
    assert summary == EvalSummary(units_done=4, units_skipped=0, models_loaded=4)
    assert sorted_records(on_ray.read()).equals(sorted_records(local.read()))
    assert set(on_ray.read()["task_version"].to_pylist()) == {"1.0", "3.0"}
