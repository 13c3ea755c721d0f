"""Checkpoint averaging: streaming means (trailing windows, EMA) over checkpoint files into new folders.
Owns the averaging rules (``mean``), the one streaming driver (``driver``) and the output writer.
May import store, world, tasks, checkpoints, files, errors.
"""

from ckptlens.averaging.ema import ema_series
from ckptlens.averaging.plan import RESUM_EVERY
from ckptlens.averaging.request import AverageRequest, run_average
from ckptlens.averaging.window import average_checkpoints, average_series, iter_window_averages

__all__ = [
    "RESUM_EVERY",
    "AverageRequest",
    "average_checkpoints",
    "average_series",
    "ema_series",
    "iter_window_averages",
    "run_average",
]
