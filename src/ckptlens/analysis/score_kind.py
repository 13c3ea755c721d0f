"""Whether a per-example metric scores 0/1 (right or wrong) or on a continuous scale.

The instability study finds machine translation, scored by BLEU or COMET, steadier than tasks scored right or
wrong; ``stability --by kind`` sets the two kinds side by side, and on a generative task with a continuous
metric also its exact-match view of the same predictions (``analysis.by_kind``).

>>> score_kind("acc"), score_kind("exact_match"), score_kind("char_f1")
('0/1', '0/1', 'continuous')
"""

from __future__ import annotations

from ckptlens.tasks.metrics import CONTINUOUS

BINARY = "0/1"
CONTINUOUS_KIND = "continuous"


def score_kind(metric: str | None) -> str:
    """``continuous`` for the metrics ``tasks.metrics.CONTINUOUS`` lists (char-F1, set-F1, BLEU, COMET), else 0/1."""
    return CONTINUOUS_KIND if metric in CONTINUOUS else BINARY
