"""``evaluate(..., average_window=n)``: averages held in memory score exactly like averaged folders on disk."""

import pyarrow.compute as pc

from ckptlens.averaging import average_series
from ckptlens.checkpoints import discover_series
from ckptlens.evaluation.evaluate import SeriesOptions, evaluate
from ckptlens.evaluation.runner import EvalConfig
from ckptlens.store import Store
from tests.cli.conftest import write_mc_task

CPU = EvalConfig(device="cpu", batch_size=16)


def logliks(store, run):
    table = store.read([run]).sort_by([("step", "ascending"), ("example_id", "ascending")])
    return table.column("step").to_pylist(), table.column("logliks").to_pylist()


def test_in_memory_averages_score_like_written_folders_and_link_to_the_base_run(tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=6)
    store = Store(tmp_path / "store")
    evaluate(tiny_series, [str(task)], store, "tiny", CPU)
    summary = evaluate(tiny_series, [str(task)], store, config=CPU, series=SeriesOptions(average_window=2, last=0.3))
    assert summary.models_loaded == 2 and not any(tmp_path.glob("**/*.partial"))
    run = f"{tiny_series.name}-avg2"
    info = store.run_info(run)
    assert (info["averaged_from"], info["window"]) == (store.run_info("tiny")["series"], 2)
    assert info["checkpoints"] == ["step000030", "step000040"]

    written = average_series(discover_series(tiny_series), 2, tmp_path / "avg2", steps=[30, 40])
    evaluate(written[0].path.parent, [str(task)], store, "on-disk", CPU)
    steps, in_memory = logliks(store, run)
    assert steps[0] == 30 and in_memory == logliks(store, "on-disk")[1]
    assert pc.max(store.read([run]).column("step")).as_py() == 40


def test_rerun_skips_finished_averages(tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "colors.jsonl", n=4)
    store = Store(tmp_path / "store")
    options = SeriesOptions(average_window=3)
    evaluate(tiny_series, [str(task)], store, config=CPU, series=options)
    again = evaluate(tiny_series, [str(task)], store, config=CPU, series=options)
    assert (again.units_done, again.units_skipped, again.models_loaded) == (0, 2, 0)
