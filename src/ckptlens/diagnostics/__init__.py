"""Parameter- and representation-space diagnostics of a checkpoint series: drift, linearity, interpolation,
representations (linear CKA of task prompts' hidden states); the math as pure functions of tensors.
May import analysis, importers, evaluation, averaging, store, world, tasks, checkpoints, files, errors.
"""

from ckptlens.diagnostics.drift import WHOLE_MODEL, DriftRow, checkpoint_drift, series_drift

__all__ = ["WHOLE_MODEL", "DriftRow", "checkpoint_drift", "series_drift"]
