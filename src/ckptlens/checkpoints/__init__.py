"""Discover and open a checkpoint series (a folder of checkpoint folders)."""

from ckptlens.checkpoints.select import last_fraction, window_ends_in_last
from ckptlens.checkpoints.series import Checkpoint, discover_series, parse_step

__all__ = ["Checkpoint", "discover_series", "last_fraction", "parse_step", "window_ends_in_last"]
