"""Checkpoint averaging: trailing-window means of a series' parameters, streamed from safetensors.

``mean`` holds the averaging rule (pure tensor math), ``plan`` which checkpoints
each output reads, ``weights``/``writer`` the safetensors IO, and ``window``
the drivers below; ``ema`` the exponential moving average.
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
