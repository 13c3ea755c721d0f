"""Instability through training: the stability rows of every method per span of training.

The study's open question: are averaging and ensembling beneficial throughout training, or only late? ``--phases
K`` cuts training into K equal spans of progress (``analysis.spans``) and computes the stability table in each, with
the same like-with-like rule as the final window: within a span, every method is compared over the steps all of its
windows cover (an ensemble of n uses its n − 1 predecessors, also when they precede the span, as it does for
``--last``). ``--span FROM:TO`` measures one explicit span.

``reductions`` sets each method against raw per phase: the mean over tasks (``stability.summarise``, computed per
phase, so a method missing from one phase does not drop tasks from another) and the reduction in percent,
100 × (raw − method) / raw, of example MTV and the instability score.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace

from ckptlens.analysis.matrix import Matrices, read_matrices
from ckptlens.analysis.spans import Span, phase_spans
from ckptlens.analysis.stability import StabilityConfig, StabilityRow, Sweep, check_windows, stability_sweep, summarise
from ckptlens.errors import CkptlensError
from ckptlens.store import Store

REDUCED = ("example_mtv", "instability_score")  # the numbers whose reduction against raw is reported


@dataclass(frozen=True)
class PhaseReduction:
    """Mean over tasks of one (run, phase, method, window), and how much it removes of raw's instability."""

    run: str
    phase: int | None
    first_step: int
    last_step: int
    method: str
    window: int | None
    n_tasks: int
    example_mtv: float | None
    instability_score: float | None
    raw_example_mtv: float | None
    raw_instability_score: float | None
    example_mtv_reduction: float | None  # percent of raw's example MTV removed
    instability_score_reduction: float | None

    def to_dict(self) -> dict:
        return asdict(self)


def phase_sweep(store: Store, config: StabilityConfig, phases: int | None = None, span: Span | None = None,
                loaded: Matrices | None = None) -> Sweep:
    """Stability rows for each of ``phases`` equal spans (rows carry ``phase``), or for the one ``span``."""
    if (phases is None) == (span is None):
        raise CkptlensError("give either --phases K or --span FROM:TO, not both")
    if span is not None:
        return stability_sweep(store, replace(config, span=span), loaded)
    sweep = Sweep([])
    spans = phase_spans(phases)
    loaded = read_matrices(store, config.categories, config.metric) if loaded is None else loaded  # read once
    for part in spans:
        found = stability_sweep(store, replace(config, span=part), loaded)
        sweep += replace(found, rows=[replace(r, phase=part.phase) for r in found.rows])
    if not sweep.rows:
        raise CkptlensError(f"--phases {phases}: no phase holds 2 checkpoints of any run; use fewer phases")
    if any(r.n_examples is not None for r in sweep.rows):  # task-level imports have no windows to check
        check_windows(sweep.rows, replace(config, span=spans[0]))
    return sweep


def reductions(rows: list[StabilityRow]) -> list[PhaseReduction]:
    """Per (run, phase, method, window): the means over tasks and the reduction of raw's instability in percent."""
    out = []
    for phase in sorted({r.phase for r in rows}, key=lambda p: -1 if p is None else p):
        in_phase = [r for r in rows if r.phase == phase]
        raw = {s["run"]: s for s in summarise(in_phase) if s["method"] == "raw"}
        for s in summarise(in_phase):
            base = raw.get(s["run"])
            if base is None:
                continue
            steps = [r for r in in_phase if r.run == s["run"] and r.method == "raw"]
            out.append(PhaseReduction(
                run=s["run"], phase=phase, first_step=min(r.first_step for r in steps),
                last_step=max(r.last_step for r in steps), method=s["method"], window=s["window"],
                n_tasks=s["n_tasks"], example_mtv=s["example_mtv"], instability_score=s["instability_score"],
                raw_example_mtv=base["example_mtv"], raw_instability_score=base["instability_score"],
                example_mtv_reduction=reduction(base["example_mtv"], s["example_mtv"]),
                instability_score_reduction=reduction(base["instability_score"], s["instability_score"]),
            ))
    return out


def reduction(raw: float | None, method: float | None) -> float | None:
    """100 × (raw − method) / raw; None when either is missing or raw is 0 (nothing to remove).

    >>> reduction(0.2, 0.05), reduction(0.0, 0.0), reduction(None, 0.1)
    (75.0, None, None)
    """
    if raw is None or method is None or raw == 0 or math.isnan(raw) or math.isnan(method):
        return None
    return 100.0 * (raw - method) / raw
