"""No hidden global effects: importing registers no task, resolving lm-eval tasks leaves ``datasets`` online,
lm-eval's built requests are never answered in place."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest


def test_importing_ckptlens_registers_no_demo_task():
    probe = ("import ckptlens, ckptlens.cli.app, ckptlens.evaluation.evaluate, ckptlens.evaluation.watch\n"
             "from ckptlens.tasks.registry import builtin_names\n"
             "print(len(builtin_names()))\n"
             "from ckptlens.evaluation.plan import request_tasks\n"
             "from ckptlens.evaluation.request import EvalRequest\n"
             "request_tasks(EvalRequest(series='.', tasks=('capital_choice',)))\n"
             "print(len(builtin_names()) > 0)")  # fmt: skip
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.split() == ["0", "True"], done.stderr  # none on import; the world's once tasks are resolved


def test_datasets_offline_is_scoped_to_the_call(monkeypatch, lm_eval_include):
    import datasets.config

    from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks, datasets_offline

    monkeypatch.delenv("HF_DATASETS_OFFLINE", raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", False)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    with datasets_offline():
        assert os.environ["HF_DATASETS_OFFLINE"] == "1" and datasets.config.HF_DATASETS_OFFLINE
    assert "HF_DATASETS_OFFLINE" not in os.environ and not datasets.config.HF_HUB_OFFLINE
    tasks = build_lm_eval_tasks(["arc_easy"], LmEvalOptions((str(lm_eval_include),), limit=2))
    assert len(tasks[0].examples) == 2
    assert "HF_DATASETS_OFFLINE" not in os.environ
    assert not datasets.config.HF_DATASETS_OFFLINE and not datasets.config.HF_HUB_OFFLINE


def test_lm_eval_instances_are_copied_not_answered_in_place(tiny_series, lm_eval_include, one_thread):
    from ckptlens.checkpoints.loading import load_model
    from ckptlens.evaluation.lm_eval_requests import evaluate_lm_eval_task
    from ckptlens.tasks.lm_eval_index import LmEvalOptions, build_lm_eval_tasks

    task = build_lm_eval_tasks(["arc_easy"], LmEvalOptions((str(lm_eval_include),), limit=2))[0]
    built = [r for rs in task.lm_eval.instances.values() for r in rs]
    rows = {}
    for step in ("step000010", "step000020"):
        model, tokenizer = load_model(tiny_series / step, device="cpu")
        rows[step] = evaluate_lm_eval_task(model, tokenizer, task)
        assert all(r.resps == [] and r.filtered_resps == {} for r in built)  # the shared requests stay blank
    assert rows["step000010"][0]["logliks"] != pytest.approx(rows["step000020"][0]["logliks"])


def test_a_failing_aggregation_is_named_not_dropped():
    from ckptlens.errors import CkptlensError
    from ckptlens.evaluation.lm_eval_requests import _stored

    def needs_two(values):
        if len(values) < 2:
            raise ValueError("needs two documents")

    def broken(values):
        raise KeyError("label")

    assert _stored(0.5, None, None) == (0.5, None, None) and _stored((1, 0), needs_two, "mcc") is None
    with pytest.raises(CkptlensError, match="lm-eval aggregation 'f1'.*KeyError"):
        _stored((1, 0), broken, "f1")
