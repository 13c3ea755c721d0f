"""What ``ckptlens average`` does, as one API call: a window series, an EMA series, or one average of listed folders.

>>> [p.name for p in run_average(AverageRequest(("runs/demo",), Path("avg4"), window=4, last="20%"))]
['step000050', 'step000060']
>>> len(run_average(AverageRequest(("runs/demo",), Path("ema"), ema=0.9)))
6
>>> [p.name for p in run_average(AverageRequest(("runs/demo/step000050", "runs/demo/step000060"), Path("avg")))]
['avg']

A Hub series works the same way: ``AverageRequest(("hf://EleutherAI/pythia-70m",), Path("ema"), ema=0.9)``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ckptlens.averaging.ema import ema_series
from ckptlens.averaging.window import Progress, average_checkpoints, average_series
from ckptlens.checkpoints import open_series, parse_fraction, series_id, window_ends_in_last
from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class AverageRequest:
    sources: tuple[str, ...]  # one series (folder or hf://org/name), or several checkpoint folders to average once
    out: Path  # output folder: the averaged series, or the one averaged checkpoint
    window: int | None = None  # trailing-window size over the series
    ema: float | None = None  # exponential moving average decay over the series
    stride: int = 1  # write every k-th output
    steps: str | None = None  # --steps filter applied to the series first, e.g. 1000:5000:500
    last: str | float | None = None  # only outputs ending in the final fraction of training (0.2 or 20%)
    dtype: str | None = None  # output dtype of averaged tensors; None keeps the stored dtype
    skip_incomplete: bool = False  # leave out checkpoint folders without config.json; no window spans them

    def __post_init__(self) -> None:
        if self.window is not None and self.window < 1:
            raise CkptlensError(f"--window must be at least 1 checkpoint, got {self.window}")
        if self.stride < 1:
            raise CkptlensError(f"--stride must be at least 1, got {self.stride}")


def run_average(request: AverageRequest, progress: Progress | None = None) -> list[Path]:
    """Write what ``request`` asks for and return the output checkpoint folders.

    ``progress(done, total)`` counts output checkpoints of a series, or tensors of a single average.
    """
    if request.window is not None and request.ema is not None:
        raise CkptlensError("give either --window or --ema, not both")
    if request.window is None and request.ema is None:
        return [_single_average(request, progress)]
    if len(request.sources) != 1:
        raise CkptlensError(
            f"--window and --ema take one series (a folder or hf://org/name), got {len(request.sources)}"
        )
    series = open_series(request.sources[0], request.steps, skip_incomplete=request.skip_incomplete)
    source = series_id(request.sources[0])  # what the store calls the series: averages link to its runs
    size = request.window or 1
    ends = (
        None
        if request.last is None
        else window_ends_in_last(series, size, parse_fraction(request.last), request.stride)
    )
    if request.ema is not None:
        written = ema_series(series, request.ema, request.out, request.stride, ends, progress, request.dtype, source)
    else:
        written = average_series(series, size, request.out, request.stride, ends, progress, request.dtype, source)
    return [c.path for c in written]


def _single_average(request: AverageRequest, progress: Progress | None) -> Path:
    if len(request.sources) < 2:
        raise CkptlensError(
            "give several checkpoint folders to average once, or one series with --window n or --ema decay"
        )
    if request.steps is not None or request.last is not None:
        raise CkptlensError("--steps and --last select from a series; with listed checkpoints, list only those")
    return average_checkpoints([Path(s) for s in request.sources], request.out, request.dtype, progress)
