"""Parameter- and representation-space diagnostics of a checkpoint series: why averaging works, and when it
does not (``representations``: linear CKA and hidden states of task prompts).

``distance`` holds the math (pure functions of tensors), ``drift`` streams a
series' safetensors through it. Beside ``averaging`` in the data flow: imports
only ``checkpoints``, ``averaging``, ``store`` (its drift
schema) and ``errors``.
"""

from ckptlens.diagnostics.drift import WHOLE_MODEL, DriftRow, checkpoint_drift, series_drift

__all__ = ["WHOLE_MODEL", "DriftRow", "checkpoint_drift", "series_drift"]
