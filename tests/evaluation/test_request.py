"""One evaluation request: validated all at once, read from YAML, recorded in runs/<run>.json, re-linked when moved."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from ckptlens.checkpoints import discover_series
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.executors import Executor, LocalExecutor, RayExecutor, run_request
from ckptlens.evaluation.plan import build_plan, extend
from ckptlens.evaluation.request import RESULT_FIELDS, EvalRequest
from ckptlens.evaluation.units import UnitTally
from ckptlens.store import Store
from tests.cli.conftest import write_mc_task


def _request(tmp_path, series, **fields) -> EvalRequest:
    task = write_mc_task(tmp_path / "mc.jsonl", n=3)
    return EvalRequest(series=str(series), tasks=(str(task),), store=str(tmp_path / "store"),
                       **{"device": "cpu", "batch_size": 8, **fields})


def test_every_problem_is_reported_together(tmp_path):
    request = EvalRequest(series=str(tmp_path / "nowhere"), batch_size=0, shard_size=0, dtype="float8",
                          steps="a:b", executor="ray", average_window=2, watch_timeout=5.0)  # fmt: skip
    with pytest.raises(CkptlensError) as caught:
        request.validate()
    message = str(caught.value)
    assert message.startswith("7 problems: (1) series folder not found")
    for fragment in ("--batch-size must be at least 1", "--shard-size must be at least 1", "--dtype 'float8'",
                     "--steps", "cannot run on Ray", "need --watch"):  # fmt: skip
        assert fragment in message
    assert EvalRequest(series=str(tmp_path)).problems() == []


def test_from_yaml_reads_the_fields_and_flags_win(tmp_path):
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"series": str(tmp_path), "tasks": "a.jsonl,b.jsonl", "batch-size": 4,
                                      "dtype": "bfloat16", "size": "1.8b", "last": "20%"}))  # fmt: skip
    request = EvalRequest.from_yaml(config, batch_size=2)
    assert (request.tasks, request.batch_size, request.dtype, request.size, request.last) == (
        ("a.jsonl", "b.jsonl"), 2, "bfloat16", 1_800_000_000, 0.2)
    config.write_text(yaml.safe_dump({"series": str(tmp_path), "batch_sise": 4}))
    with pytest.raises(CkptlensError, match="unknown option 'batch_sise'"):
        EvalRequest.from_yaml(config).validate()


def test_eval_config_flag_runs_the_yaml_request(cli, tiny_series, tmp_path):
    task = write_mc_task(tmp_path / "mc.jsonl", n=3)
    config = tmp_path / "eval.yaml"
    config.write_text(yaml.safe_dump({"series": str(tiny_series), "tasks": [str(task)], "steps": "10,20",
                                      "device": "cpu", "run": "from-yaml", "store": str(tmp_path / "yaml-store")}))
    code, _, err = cli("eval", "--config", config, "--run", "flag-wins")
    assert code == 0, err
    assert "evaluated 2 (checkpoint, task) units" in err
    assert Store(tmp_path / "yaml-store").runs() == ["flag-wins"]


def test_the_run_records_the_request_and_versions(tiny_series, tmp_path, one_thread):
    request = _request(tmp_path, tiny_series, steps="10,20", run="tiny")
    summary = run_request(request)
    assert summary.units_done == 2
    info = Store(tmp_path / "store").run_info("tiny")
    assert info["request"] == json.loads(json.dumps(request.to_dict()))
    assert set(info["versions"]) == {"ckptlens", "torch", "transformers", "lm-eval"}
    assert info["versions"]["torch"] and info["versions"]["ckptlens"]
    assert sorted(info["fingerprints"]) == ["step000010", "step000020"]

    more = _request(tmp_path, tiny_series, steps="30", run="tiny", batch_size=2)  # a subset, batching: same run
    assert run_request(more).units_done == 1
    with pytest.raises(CkptlensError) as caught:
        run_request(_request(tmp_path, tiny_series, steps="40", run="tiny", dtype="bfloat16", num_fewshot=2))
    message = str(caught.value)
    assert "run 'tiny' was evaluated with dtype='float32', num_fewshot=None" in message
    assert "this request has dtype='bfloat16', num_fewshot=2" in message and "dtype" in RESULT_FIELDS


def test_relink_points_a_moved_series_at_its_run(tiny_series, tmp_path, one_thread):
    first = tmp_path / "first"
    shutil.copytree(tiny_series, first)
    run_request(_request(tmp_path, first, steps="10,20", run="r"))
    moved = tmp_path / "moved"
    first.rename(moved)
    with pytest.raises(CkptlensError, match="pass --relink if the series folder moved"):
        run_request(_request(tmp_path, moved, steps="10,20", run="r"))
    summary = run_request(_request(tmp_path, moved, steps="10,20", run="r", relink=True))
    assert (summary.units_done, summary.units_skipped) == (0, 2)
    assert Store(tmp_path / "store").run_info("r")["series"] == str(moved.resolve())

    other = tmp_path / "other"
    shutil.copytree(moved, other)
    shutil.copy(other / "step000030" / "model.safetensors", other / "step000020" / "model.safetensors")
    with pytest.raises(CkptlensError, match="--relink: checkpoint step000020 of run 'r' differs in"):
        run_request(_request(tmp_path, other, steps="10,20", run="r", relink=True))


def test_a_mistyped_series_fails_before_torch_is_imported(tmp_path):
    import subprocess
    import sys
    import time

    probe = ("import sys; sys.argv = ['ckptlens', 'eval', 'no/such/series', '--tasks', 'x.jsonl']\n"
             "from ckptlens.cli.app import main\n"
             "try:\n    main()\nexcept SystemExit as exit:\n    print('torch' in sys.modules, exit.code)")  # fmt: skip
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60)
    elapsed = time.perf_counter() - start
    assert done.stdout.split() == ["False", "2"], done.stderr
    assert "series folder not found: no/such/series" in done.stderr
    assert elapsed < 10  # well under 1 s on an idle machine; the bound allows a loaded one


def test_local_ray_and_watch_share_the_executor_protocol_and_the_unit_step():
    import inspect

    import ckptlens.evaluation.ray_executor as ray_executor
    import ckptlens.evaluation.runner as runner
    import ckptlens.evaluation.watch as watch

    assert isinstance(LocalExecutor(), Executor) and isinstance(RayExecutor(), Executor)
    assert runner.run_unit is ray_executor.run_unit  # one claim -> evaluate -> write step
    assert "executor.run(new)" in inspect.getsource(watch.watch_request)
    private = [line for line in inspect.getsource(ray_executor).splitlines()
               if line.startswith("from ckptlens.evaluation.runner")]  # fmt: skip
    assert private == []


def test_watch_adds_units_to_one_plan(tiny_series, tmp_path, one_thread):
    request = _request(tmp_path, tiny_series, watch=True, run="live")
    plan = build_plan(request)
    assert plan.units() == [] and len(plan.tasks) == 1
    checkpoints = discover_series(tiny_series)
    seen = UnitTally(None)
    for ckpt in checkpoints[:2]:
        plan, new = extend(plan, [ckpt])
        assert [c.name for c, _ in new.units()] == [ckpt.name]
        LocalExecutor().run(new, lambda c, t: seen.add(c, t, True))
    assert [c.name for c, _ in plan.units()] == ["step000010", "step000020"] and seen.done == 2
    assert Store(tmp_path / "store").run_info("live")["checkpoints"] == ["step000010", "step000020"]
