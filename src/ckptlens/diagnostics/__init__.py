"""Parameter-space diagnostics of a checkpoint series: drift, linearity, interpolation, distances.
Owns the math (pure functions of tensors) and its streaming over safetensors.
May import analysis, importers, evaluation, averaging, store, world, tasks, checkpoints, files, errors.
"""

from ckptlens.diagnostics.drift import WHOLE_MODEL, DriftRow, checkpoint_drift, series_drift

__all__ = ["WHOLE_MODEL", "DriftRow", "checkpoint_drift", "series_drift"]
