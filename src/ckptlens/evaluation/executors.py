"""Executors: what runs a plan's units. Local, Ray and watch mode share one protocol and one unit step.

An executor takes a ``Plan`` and runs each of its (checkpoint, task) units
through ``units.run_unit`` (claim -> evaluate -> write), skipping what the store
has; ``on_unit(checkpoint, task)`` hears of each unit once it is stored. The local
executor runs them in this process as a pipeline (``runner``), the Ray executor
fans them out over a cluster (``ray_executor``), and watch mode hands the local
executor a plan extended by each checkpoint that appears (``watch``).

>>> isinstance(LocalExecutor(), Executor), isinstance(RayExecutor(), Executor)
(True, True)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from ckptlens.evaluation.config import EvalConfig, EvalSummary
from ckptlens.evaluation.plan import Plan, build_plan
from ckptlens.evaluation.ray_executor import RayOptions, evaluate_on_ray
from ckptlens.evaluation.request import EvalRequest
from ckptlens.evaluation.runner import evaluate_series
from ckptlens.evaluation.units import OnUnit
from ckptlens.tasks.task import Task

Progress = Callable[[int, int], None]


@runtime_checkable
class Executor(Protocol):
    def run(self, plan: Plan, on_unit: OnUnit | None = None) -> EvalSummary:
        """Run every unit of ``plan`` the store lacks; return when all are stored."""


@dataclass(frozen=True)
class LocalExecutor:
    """In this process: one checkpoint loaded at a time (the next one ahead), records written in the background."""

    def run(self, plan: Plan, on_unit: OnUnit | None = None) -> EvalSummary:
        return evaluate_series(plan.checkpoints, plan.tasks, plan.store, plan.run, plan.config, on_unit, plan.load)


@dataclass(frozen=True)
class RayExecutor:
    """On a Ray cluster: one Ray task per piece, every worker writing into the shared store."""

    options: RayOptions = field(default_factory=RayOptions)

    def run(self, plan: Plan, on_unit: OnUnit | None = None) -> EvalSummary:
        return evaluate_on_ray(plan.checkpoints, plan.tasks, plan.store, plan.run, plan.config, self.options,
                               on_unit, plan.load)  # fmt: skip


def executor_for(request: EvalRequest) -> Executor:
    """The executor ``request.executor`` names, with its options."""
    if request.executor == "ray":
        return RayExecutor(RayOptions(request.address, 3 if request.max_retries is None else request.max_retries))
    return LocalExecutor()


def run_request(
    request: EvalRequest, progress: Progress | None = None, prebuilt: Sequence[Task] = (),
    config: EvalConfig | None = None,
) -> EvalSummary:
    """Plan ``request`` (every check before any work) and run its units on its executor.

    ``progress(done, total)`` counts (checkpoint, task) units, finished or skipped.
    """
    plan = build_plan(request, prebuilt, config)
    return executor_for(request).run(plan, _counter(len(plan.units()), progress))


def _counter(total: int, progress: Progress | None) -> OnUnit | None:
    if progress is None:
        return None
    done = iter(range(1, total + 1))
    return lambda checkpoint, task: progress(next(done), total)
