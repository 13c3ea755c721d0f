"""Discover and open a checkpoint series (a folder of checkpoint folders)."""

from ckptlens.checkpoints.series import Checkpoint, discover_series, parse_step

__all__ = ["Checkpoint", "discover_series", "parse_step"]
