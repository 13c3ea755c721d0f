"""Exponential moving average of a series' parameters, streamed checkpoint by checkpoint.

``ema_1 = theta_1`` and ``ema_t = decay * ema_{t-1} + (1 - decay) * theta_t``
over the series ordered by step. Each checkpoint is read exactly once; the
float32 average of one model is the only large state. A decay of 0.9 weighs
roughly the last 10 checkpoints; unlike a window, an old checkpoint never
leaves completely.

>>> from ckptlens.checkpoints import discover_series
>>> written = ema_series(discover_series("runs/demo"), 0.8, Path("runs/demo-ema"))
>>> [c.step for c in written]
[10, 20, 30, 40, 50, 60]
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path

import torch

from ckptlens.averaging.driver import Progress, TensorFor, write_averages
from ckptlens.averaging.mean import ema_update, is_averaged
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.checkpoints.weights import Layout, compare_layouts, open_weights, read_model_layout, torch_dtype
from ckptlens.errors import CkptlensError


def ema_series(
    series: list[Checkpoint],
    decay: float,
    out_dir: Path,
    stride: int = 1,
    steps: Iterable[int] | None = None,
    progress: Progress | None = None,
    dtype: torch.dtype | str | None = None,
    source: str | None = None,
) -> list[Checkpoint]:
    """Write the EMA at every ``stride``-th checkpoint (or at ``steps``) to ``out_dir/<checkpoint name>/``.

    Outputs already there are not rewritten, but every checkpoint up to the last missing one is
    still read (an EMA depends on the whole history). The manifest's ``source`` is ``source``, as in
    ``average_series``; the streaming is ``driver.write_averages``'s, shared with the window average.
    """
    if not 0 <= decay < 1:
        raise CkptlensError(f"--ema takes a decay in [0, 1), e.g. 0.9, got {decay}")
    return write_averages(series, EmaRule(decay), out_dir, stride, steps, progress, dtype, source)


class EmaRule:
    """``ema_t = decay * ema_{t-1} + (1 - decay) * theta_t`` (``mean.ema_update``), one float32 state."""

    method = "ema"
    label = "EMA outputs"

    def __init__(self, decay: float):
        self.decay = decay

    def params(self) -> dict:
        return {"decay": self.decay}

    def targets(self, series: list[Checkpoint], stride: int, steps: Iterable[int] | None) -> list[int]:
        if stride < 1:
            raise CkptlensError(f"stride must be at least 1, got {stride}")
        return sorted(_targets(series, stride, steps))

    def members(self, series: list[Checkpoint], target: int) -> list[Checkpoint]:
        return series[: target + 1]

    def outputs(self, series: list[Checkpoint], targets: list[int]) -> Iterator[tuple[int, Layout, TensorFor]]:
        if not targets:
            return
        wanted = set(targets)
        for index, (layout, average, copies) in enumerate(_ema_states(series, self.decay, last=max(targets))):
            if index in wanted:
                yield index, layout, partial(_ema_tensor, average, copies)


def _ema_tensor(average: dict, copies: dict, name: str, dtype: torch.dtype) -> torch.Tensor:
    return copies[name] if name in copies else average[name].to(dtype)


def _ema_states(
    series: list[Checkpoint], decay: float, last: int
) -> Iterator[tuple[Layout, dict[str, torch.Tensor], dict[str, torch.Tensor]]]:
    """After each checkpoint up to index ``last``: its layout, the float32 EMA, and its integer tensors."""
    average: dict[str, torch.Tensor] = {}
    first_layout = read_model_layout(series[0].path)
    for checkpoint in series[: last + 1]:
        layout = read_model_layout(checkpoint.path)
        compare_layouts(layout, checkpoint.name, first_layout, series[0].name)
        copies = {}
        with open_weights(checkpoint.name, checkpoint.path, layout) as reader:
            for name, info in layout.tensors.items():
                tensor = reader.get(name)
                if not is_averaged(torch_dtype(info.dtype)):
                    copies[name] = tensor.clone()
                elif name in average:
                    average[name] = ema_update(average[name], tensor, decay)
                else:
                    average[name] = tensor.to(torch.float32, copy=True)
        yield layout, average, copies


def _targets(series: list[Checkpoint], stride: int, steps: Iterable[int] | None) -> set[int]:
    if not series:
        raise CkptlensError("an EMA needs at least one checkpoint")
    if steps is None:
        return set(range(stride - 1, len(series), stride)) or {len(series) - 1}
    index = {c.step: i for i, c in enumerate(series)}
    unknown = sorted(set(steps) - index.keys())
    if unknown:
        raise CkptlensError(f"no checkpoint at step {unknown[0]}; the series has steps {sorted(index)[:10]}")
    return {index[s] for s in steps}
