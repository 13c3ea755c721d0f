"""Checkpoint series and files: discovery (local folders, Hub step revisions), loading, safetensors IO,
fingerprints, and writing Hugging Face folders atomically (``writing``).
May import files, errors.
"""

from ckptlens.checkpoints.hub import is_hub_spec, list_hub_series, parse_revision
from ckptlens.checkpoints.select import (
    filter_series,
    last_fraction,
    parse_fraction,
    parse_step_range,
    window_ends_in_last,
)
from ckptlens.checkpoints.series import Checkpoint, discover_series, parse_step, parse_tokens
from ckptlens.checkpoints.source import open_series, series_id, series_name

__all__ = [
    "Checkpoint",
    "discover_series",
    "is_hub_spec",
    "last_fraction",
    "list_hub_series",
    "open_series",
    "parse_fraction",
    "parse_revision",
    "parse_step",
    "parse_step_range",
    "parse_tokens",
    "filter_series",
    "series_id",
    "series_name",
    "window_ends_in_last",
]
