"""Evaluate models on the straight line between two checkpoints: is the path flat, or is there a barrier?

Averaging two neighbouring checkpoints evaluates the midpoint of the segment
θ(α) = (1 - α) θ_a + α θ_b. If the loss and the scores along that segment stay
on (or better than) the chord between the two ends, averaging is safe; a bump
of the loss (or a dip of a score) in the middle is a barrier, and the average
can be worse than either end.

One model is loaded (checkpoint ``b``, with its tokenizer and integer buffers)
and its floating-point parameters are overwritten in place for each α, tensor
by tensor from the two memory-mapped safetensors files: memory is one model
plus one tensor in float32. Tasks are any ckptlens tasks; a perplexity task
(a ``.txt`` file) gives the validation loss in nats per token.

>>> points = interpolation_path(Path("runs/demo/step000050"), Path("runs/demo/step000060"), tasks, points=3)
>>> sorted({p.alpha for p in points})
[0.0, 0.5, 1.0]
>>> [b.task for b in barriers(points)]
['capitals']
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from ckptlens.checkpoints.loading import load_model
from ckptlens.checkpoints.weights import compare_layouts, open_weights, read_model_layout, torch_dtype
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, evaluate_task
from ckptlens.tasks.task import Task


@dataclass(frozen=True)
class PathPoint:
    """One task at one point θ(α) of the segment; ``value`` is a score, or a loss for perplexity tasks."""

    alpha: float
    task: str
    metric: str  # "score" (mean reference-based score) or "loss" (nats per token)
    value: float

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Barrier:
    """How far the path goes the wrong way from the chord between its ends (0 when it never does)."""

    task: str
    metric: str
    height: float  # loss above the chord, or score below it, at its worst point; >= 0
    alpha: float  # where that worst point is
    midpoint_gain: float  # at the point nearest α = 0.5 (the 2-checkpoint average): how much better than the chord

    def to_dict(self) -> dict:
        return asdict(self)


def interpolation_path(
    a: Path,
    b: Path,
    tasks: Sequence[Task],
    points: int = 5,
    config: EvalConfig = EvalConfig(),
    progress: Callable[[int, int], None] | None = None,
) -> list[PathPoint]:
    """Every task at ``points`` evenly spaced α from 0 (checkpoint ``a``) to 1 (checkpoint ``b``)."""
    if points < 2:
        raise CkptlensError(f"--points must be at least 2 (the two ends), got {points}")
    layout_a, layout_b = read_model_layout(a), read_model_layout(b)
    compare_layouts(layout_b, b.name, layout_a, a.name)
    model, tokenizer = load_model(b, config.device, config.dtype, config.allow_pickle)
    parameters = model.state_dict()
    floats = [n for n, info in layout_b.tensors.items() if torch_dtype(info.dtype).is_floating_point]
    unknown = [n for n in floats if n not in parameters]
    if unknown:
        raise CkptlensError(f"tensor {unknown[0]} of {b} is not a parameter of its model; config.json does not match")
    alphas = np.linspace(0.0, 1.0, points).tolist()
    result = []
    with ExitStack() as stack:
        reader_a = stack.enter_context(open_weights(a.name, a, layout_a))
        reader_b = stack.enter_context(open_weights(b.name, b, layout_b))
        for i, alpha in enumerate(alphas):
            with torch.no_grad():
                for name in floats:
                    mixed = torch.lerp(reader_a.get(name).float(), reader_b.get(name).float(), alpha)
                    parameters[name].copy_(mixed)
            result += [_point(alpha, task, evaluate_task(model, tokenizer, task, config.batch_size)) for task in tasks]
            if progress is not None:
                progress(i + 1, points)
    return result


def barriers(points: Sequence[PathPoint]) -> list[Barrier]:
    """Per (task, metric): the largest excursion of the path to the wrong side of the straight chord.

    For a loss that is ``L(α) - ((1 - α) L(0) + α L(1))``; for a score, the
    chord minus the score. A flat or convex path has height 0. The gain at
    the midpoint is the same excursion with the sign turned: positive when the
    two-checkpoint average beats the mean of its ends (the linearity gap, n=2).
    """
    groups: dict[tuple[str, str], list[PathPoint]] = {}
    for point in points:
        groups.setdefault((point.task, point.metric), []).append(point)
    result = []
    for (task, metric), group in groups.items():
        group = sorted(group, key=lambda p: p.alpha)
        alphas = np.array([p.alpha for p in group])
        values = np.array([p.value for p in group])
        chord = (1 - alphas) * values[0] + alphas * values[-1]
        excess = values - chord if metric == "loss" else chord - values
        worst, middle = int(np.argmax(excess)), int(np.argmin(np.abs(alphas - 0.5)))
        height = max(float(excess[worst]), 0.0)
        result.append(Barrier(task, metric, height, float(alphas[worst]), -float(excess[middle])))
    return result


def _point(alpha: float, task: Task, rows: list[dict]) -> PathPoint:
    if task.kind == "perplexity":
        loss = sum(r["nll"] for r in rows) / sum(r["n_tokens"] for r in rows)
        return PathPoint(alpha, task.name, "loss", loss)
    scores = [r["score"] for r in rows if r["score"] is not None]
    if not scores:
        raise CkptlensError(f"task {task.name} has no reference answers to score; give it gold answers or targets")
    return PathPoint(alpha, task.name, "score", float(np.mean(scores)))
