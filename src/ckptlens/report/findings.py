"""Report section: the instability study's open questions, answered for this store from its numbers.

Like the verdict, every sentence is a function of rows the page (or its CSVs) shows: the per-phase reductions
(``analysis.stability_phases``), the margin analysis (``analysis.probability_dynamics``) and the stability rows
by metric kind (``analysis.by_kind``).
"""

from __future__ import annotations

from ckptlens.analysis.adaptive import ADAPTIVE_PREFIX
from ckptlens.analysis.by_kind import kind_summary
from ckptlens.analysis.probability_dynamics import DynamicsSummary, MarginBin, wilson
from ckptlens.analysis.stability import StabilityRow
from ckptlens.analysis.stability_phases import PhaseReduction, reductions
from ckptlens.diagnostics.representation_series import RepresentationRow
from ckptlens.report.data import ReportData
from ckptlens.report.html import Page
from ckptlens.report.representations import stored_rows

HELPS = 20.0  # percent of raw example MTV a method must remove in a phase to count as beneficial there


def phase_answer(found: list[PhaseReduction], rows: list[StabilityRow]) -> str:
    """Whether the best integrated method of each phase removes instability there, clearly or not, with its numbers.

    A phase counts as helped when its best method cuts the mean example MTV by ``HELPS`` percent, and as clearly
    helped when, besides, that method's interval lies below raw's in most of the tasks of the mean: a cut resting on
    one task's single change between two checkpoints is a point estimate, not a finding.
    """
    phases = sorted({r.phase for r in found if r.method != "raw" and r.example_mtv_reduction is not None})
    if not phases:
        return ("Through training: no phase has both raw and integrated rows of tasks that learned, so the question "
                "cannot be answered from this store.")
    parts, helped, clear = [], [], []
    for phase in phases:
        best = max((r for r in found if r.phase == phase and r.method != "raw" and r.example_mtv_reduction is not None),
                   key=lambda r: r.example_mtv_reduction)
        below, of = _clear_tasks(rows, best)
        parts.append(f"phase {phase} (steps {best.first_step}–{best.last_step}): {best.method} of {best.window} "
                     f"{best.raw_example_mtv:.3f} → {best.example_mtv:.3f} ({-best.example_mtv_reduction:+.0f}%"
                     f"; below raw's interval in {below} of {of} tasks)")
        helped.append(best.example_mtv_reduction >= HELPS)
        clear.append(best.example_mtv_reduction >= HELPS and below > of / 2)
    missing = sorted({r.phase for r in found} - set(phases))
    tail = f"; phases {', '.join(map(str, missing))} have no task above chance" if missing else ""
    return f"{_phase_head(phases, helped, clear)}: " + "; ".join(parts) + tail + "."


def _phase_head(phases: list[int], helped: list[bool], clear: list[bool]) -> str:
    cut = f"the best method cuts example MTV by at least {HELPS:.0f}%"
    if all(clear):
        return f"Through training: {cut}, its interval below raw's in most tasks, in every phase measured"
    clearly = [str(p) for p, c in zip(phases, clear) if c]
    how = (f", clearly (interval below raw's in most tasks) in phase(s) {', '.join(clearly)} only" if clearly else
           ", but in no phase is its interval below raw's in most tasks")
    if all(helped):
        return f"Through training: {cut} in every phase measured{how}"
    some = [str(p) for p, h in zip(phases, helped) if h]
    if not some:
        return f"Through training: no method cuts example MTV by {HELPS:.0f}% in any phase measured"
    return f"Through training: {cut} in phase(s) {', '.join(some)} only{how}"


def _clear_tasks(rows: list[StabilityRow], best: PhaseReduction) -> tuple[int, int]:
    """Of the tasks in the phase's means, those where the method's example MTV interval lies below raw's.

    The tasks are the ones ``stability.summarise`` averages: above chance, with every method the run has in the
    phase (a generation task without the mean-logprob ensemble is not in the means, so it is not counted here).
    """
    by_task: dict[str, dict] = {}
    for r in rows:
        if r.run == best.run and r.phase == best.phase and not r.near_chance and r.is_score:
            window = None if r.method.startswith(ADAPTIVE_PREFIX) else r.window
            by_task.setdefault(r.task, {})[(r.method, window)] = r
    every = set().union(*(set(t) for t in by_task.values())) if by_task else set()
    both = [(t[("raw", 1)], t[(best.method, best.window)]) for t in by_task.values()
            if set(t) == every and ("raw", 1) in t and (best.method, best.window) in t]
    clear = sum(1 for raw, m in both if m.example_mtv_hi is not None and raw.example_mtv_lo is not None
                and m.example_mtv_hi < raw.example_mtv_lo)
    return clear, len(both)


def margin_answer(results: list[tuple[list[MarginBin], DynamicsSummary]]) -> str:
    """Whether a small margin predicts a flip, per task, with the correlation's interval and the extreme deciles."""
    if not results:
        return "Probability dynamics: no multiple-choice task with stored log-likelihoods."
    told = []
    for bins, s in results:
        if s.spearman is None or not bins:
            continue
        low, high = bins[0], bins[-1]
        told.append(f"{s.task} ρ = {s.spearman:.2f} [{s.spearman_lo:.2f}, {s.spearman_hi:.2f}], flip rate "
                    f"{low.flip_rate:.2f} [{low.flip_rate_lo:.2f}, {low.flip_rate_hi:.2f}] in the smallest-margin "
                    f"decile against {high.flip_rate:.2f} [{high.flip_rate_lo:.2f}, {high.flip_rate_hi:.2f}] in the "
                    "largest")
    predicts = [s for _, s in results if s.spearman_hi is not None and s.spearman_hi < 0]
    steps = [s for _, s in results]
    lead = (f"Probability dynamics (steps {min(s.first_step for s in steps)}–{max(s.last_step for s in steps)}): a "
            f"small |margin| predicts a flip in {len(predicts)} of {len(results)} tasks (ρ's interval below 0)")
    return lead + ": " + "; ".join(told) + ensemble_answer([s for _, s in results]) + "."


def ensemble_answer(summaries: list[DynamicsSummary]) -> str:
    """Which examples the window-n ensemble stabilises: flips it removes below and above the median |margin|.

    Counts are pooled over tasks (a task with one large-margin flip must not weigh as much as one with a hundred).
    The answer is where the removed flips are; the shares removed on each side come with Wilson intervals, and
    are called different only when the intervals do not overlap.
    """
    low_raw = sum(s.raw_flips_low for s in summaries)
    high_raw = sum(s.raw_flips_high for s in summaries)
    if not low_raw + high_raw:
        return ""
    low, high = sum(s.removed_flips_low for s in summaries), sum(s.removed_flips_high for s in summaries)
    told = (f". The window-{summaries[0].window} ensemble removes {_share(low, low_raw)} raw flips below the median "
            f"|margin| and {_share(high, high_raw)} above it, pooled over tasks")
    if low + high:
        told += (f": {low / (low + high):.0%} of the flips it removes are of small-margin pairs, so the examples it "
                 "stabilises are " + ("mostly low-margin ones" if low > high else "mostly high-margin ones"
                                      if high > low else "as often low- as high-margin ones"))
    if not low_raw or not high_raw:
        return told
    (low_lo, low_hi), (high_lo, high_hi) = wilson(low, low_raw), wilson(high, high_raw)
    return told + ("; it removes a larger share of the small-margin flips" if low_lo > high_hi else
                   "; it removes a larger share of the large-margin flips" if high_lo > low_hi else
                   "; the shares it removes on each side do not differ clearly (intervals overlap)")


def _share(k: int, n: int) -> str:
    """``k of n (p% [lo, hi])`` with the 95% Wilson interval, or ``0 of 0``."""
    if not n:
        return "0 of 0"
    lo, hi = wilson(k, n)
    return f"{k} of {n} ({k / n:.0%} [{lo:.0%}, {hi:.0%}])"


def kind_answer(rows: list[StabilityRow]) -> str:
    """Raw example MTV of 0/1- against continuous-scored tasks (means over tasks that learned)."""
    raw = [s for s in kind_summary([r for r in rows if r.method == "raw"], []) if s["method"] == "raw"]
    kinds = {s["score_kind"]: s for s in raw}
    if len(kinds) < 2:
        only = next(iter(kinds), "no")
        return (f"By metric kind: every task that learned here is scored {only}, so 0/1 and continuous metrics "
                "cannot be compared on this store (`stability --by kind` does it on a store that has both).")
    binary, continuous = kinds.get("0/1"), kinds.get("continuous")
    return (f"By metric kind: raw example MTV {binary['example_mtv']:.3f} over {binary['n_tasks']} 0/1-scored tasks "
            f"against {continuous['example_mtv']:.3f} over {continuous['n_tasks']} continuous-scored ones; "
            "`stability --by kind` sets each continuous task beside its exact-match view of the same outputs.")


def representation_answer(rows: list[RepresentationRow]) -> str:
    """How much the prompts' representations move, and whether the examples that move more flip."""
    if not rows:
        return ("Representations: no hidden states are stored; `ckptlens representations SERIES --tasks ...` "
                "stores them and this answer follows.")
    last = max(r.layer for r in rows)
    top = [r for r in rows if r.layer == last]
    rhos = sorted(r.flip_spearman for r in top if r.flip_spearman is not None)
    cka = sorted(r.cka for r in top)
    told = (f"Representations: the last layer's CKA between neighbouring checkpoints ranges {cka[0]:.3f}–{cka[-1]:.3f} "
            f"(median {cka[len(cka) // 2]:.3f}, {len(top)} pairs over {len({r.task for r in top})} tasks)")
    if not rhos:
        return told + "; no records of the same steps to relate it to flips."
    positive = sum(1 for r in rhos if r > 0)
    return (told + f"; Spearman(cosine change, flip) has median {rhos[len(rhos) // 2]:.2f} (range {rhos[0]:.2f} to "
            f"{rhos[-1]:.2f}) over {len(rhos)} (task, step) pairs, positive in {positive}: "
            + ("examples whose representation moves more tend to flip." if positive > len(rhos) / 2 else
               "a larger move of an example's representation does not go with its flip."))


def findings_section(page: Page, data: ReportData) -> None:
    """The study's open questions, answered from the numbers of this store."""
    if not data.rows:
        return
    section = page.section("Findings: the study's open questions",
                           "Are averaging and ensembling beneficial throughout training? Does a small margin "
                           "predict a flip? Are continuous metrics steadier than 0/1 ones?")
    section.text(phase_answer(reductions(data.phase_rows), data.phase_rows))
    section.text(margin_answer(data.margins))
    section.text(kind_answer(data.rows))
    section.text(representation_answer(stored_rows(data)))
