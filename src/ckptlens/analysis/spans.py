"""Spans of training that stability is measured over: the final window, K equal phases, or one explicit span.

A span is closed at both ends and counted, like ``--last``, in fractions of the run's last step (or in steps):
``--last F`` is the span ``1 − F : 1``, so the last of ``--phases 5`` is ``--last 0.2``. Neighbouring phases share
the checkpoint that sits exactly on their boundary, so every change between neighbours falls in one phase when
checkpoints are evenly spaced.

>>> steps = [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]
>>> span_steps(steps, Span(0.8, 1.0)), span_steps(steps, Span(0.0, 0.2))
([800, 900, 1000], [0, 100, 200])
>>> [s.label for s in phase_spans(4)]
['0-25%', '25-50%', '50-75%', '75-100%']
>>> parse_span("200:600"), parse_span("0.5:100%")
(Span(lo=200.0, hi=600.0, in_steps=True, phase=None), Span(lo=0.5, hi=1.0, in_steps=False, phase=None))
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ckptlens.errors import CkptlensError


@dataclass(frozen=True)
class Span:
    lo: float  # fraction of the run's last step, or a step when ``in_steps``
    hi: float
    in_steps: bool = False
    phase: int | None = None  # 1-based index among ``--phases K``; None for the final window or ``--span``

    @property
    def label(self) -> str:
        if self.in_steps:
            return f"steps {self.lo:g}-{self.hi:g}"
        return f"{self.lo * 100:g}-{self.hi * 100:g}%"

    def bounds(self, last_step: int) -> tuple[float, float]:
        """The span's first and last step in a run whose last checkpoint is ``last_step``."""
        return (self.lo, self.hi) if self.in_steps else (self.lo * last_step, self.hi * last_step)


def final_span(last: float) -> Span:
    """``--last F`` as a span: steps at least (1 − F) × the last step."""
    return Span(1 - last, 1.0)


def phase_spans(k: int) -> list[Span]:
    """K equal spans of progress, ``(i−1)/K : i/K`` of the last step, numbered 1 … K."""
    if k < 1:
        raise CkptlensError(f"--phases takes a number of spans of training, at least 1; got {k}")
    return [Span((i - 1) / k, i / k, phase=i) for i in range(1, k + 1)]


def span_steps(steps: Sequence[int], span: Span) -> list[int]:
    """The steps of ``steps`` inside ``span`` (ends included), in order."""
    steps = sorted(int(s) for s in steps)
    if not steps:
        raise CkptlensError("no checkpoints to measure stability on")
    lo, hi = span.bounds(steps[-1])
    return [s for s in steps if lo <= s <= hi]


def steps_in_span(steps: Sequence[int], span: Span) -> list[int]:
    """``span_steps``, an error when fewer than 2 checkpoints remain (stability needs a neighbour)."""
    kept = span_steps(steps, span)
    if len(kept) < 2:
        lo, hi = span.bounds(max(int(s) for s in steps))
        raise CkptlensError(
            f"only {len(kept)} checkpoint(s) in the span {span.label} of training (steps {lo:g}-{hi:g}); "
            "stability needs at least 2: widen the span (--last, --phases, --span) or evaluate more checkpoints"
        )
    return kept


def parse_span(text: str) -> Span:
    """``--span FROM:TO``: fractions of the last step (``0.2:0.4``, ``20%:40%``) or steps (``1000:5000``).

    A value with a decimal point or a percent sign makes both ends fractions; whole numbers are steps.
    """
    parts = text.split(":")
    if len(parts) != 2 or not all(p.strip() for p in parts):
        raise CkptlensError(f"--span takes FROM:TO, fractions (0.2:0.4, 20%:40%) or steps (1000:5000); got {text!r}")
    fractions = any("." in p or "%" in p for p in parts)
    try:
        lo, hi = (_fraction(p) if fractions else float(int(p)) for p in parts)
    except ValueError:
        raise CkptlensError(f"--span {text!r}: FROM and TO must be numbers, fractions or percentages") from None
    if lo >= hi or lo < 0 or (fractions and hi > 1):
        what = "fractions with 0 <= FROM < TO <= 1" if fractions else "steps with 0 <= FROM < TO"
        raise CkptlensError(f"--span {text!r}: give {what}")
    return Span(lo, hi, in_steps=not fractions)


def _fraction(text: str) -> float:
    text = text.strip()
    return float(text.removesuffix("%")) / 100 if text.endswith("%") else float(text)
