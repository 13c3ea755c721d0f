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
from pathlib import Path

import torch

from ckptlens.averaging.mean import ema_update, is_averaged
from ckptlens.averaging.window import (
    Progress,
    check_out_dir,
    output_dtype,
    output_specs,
    report_progress,
    resolve_output_dtype,
    write_output,
)
from ckptlens.averaging.writer import OutputFile, write_manifest
from ckptlens.checkpoints.series import Checkpoint
from ckptlens.checkpoints.source import series_id
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

    Outputs already there are not rewritten, but every checkpoint is still read
    (an EMA depends on the whole history). The manifest's ``source`` is ``source``, as in ``average_series``.
    """
    if not 0 <= decay < 1:
        raise CkptlensError(f"--ema takes a decay in [0, 1), e.g. 0.9, got {decay}")
    if stride < 1:
        raise CkptlensError(f"stride must be at least 1, got {stride}")
    series = sorted(series, key=lambda c: c.step)
    targets = _targets(series, stride, steps)
    out_dir, resolved = Path(out_dir), resolve_output_dtype(dtype)
    check_out_dir(out_dir, series)
    entries: list[dict] = []
    for index, (layout, average, copies) in enumerate(_ema_states(series, decay, last=max(targets))):
        if index not in targets:
            continue
        checkpoint = series[index]
        if not (out_dir / checkpoint.name).is_dir():
            write_output(
                out_dir / checkpoint.name, checkpoint, layout, _files(layout, average, copies, resolved), resolved
            )
        entries.append(
            {
                "step": checkpoint.step,
                "tokens_seen": checkpoint.tokens_seen,
                "members": [c.name for c in series[: index + 1]],
            }
        )
        origin = source or series_id(series[0].path.parent)
        write_manifest(out_dir, {"method": "ema", "decay": decay, "source": origin, "checkpoints": entries})
        report_progress(progress, len(entries), len(targets))
    return [
        Checkpoint(series[t].name, out_dir / series[t].name, series[t].step, series[t].tokens_seen)
        for t in sorted(targets)
    ]


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


def _files(
    layout: Layout, average: dict[str, torch.Tensor], copies: dict[str, torch.Tensor], dtype: torch.dtype | None
) -> list[OutputFile]:
    def tensors(file: str) -> Iterator[tuple[str, torch.Tensor]]:
        for name, info in layout.tensors.items():
            if info.file == file:
                yield name, copies[name] if name in copies else average[name].to(output_dtype(info, dtype))

    return [OutputFile(file, output_specs(layout, file, dtype), tensors(file)) for file in layout.files()]


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
