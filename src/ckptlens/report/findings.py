"""Report section: the instability study's open questions, answered for this store from its numbers.

Like the verdict, every sentence is a function of rows the page (or its CSVs) shows: the per-phase reductions
(``analysis.stability_phases``), the margin analysis (``analysis.probability_dynamics``) and the stability rows
by metric kind (``analysis.by_kind``).
"""

from __future__ import annotations

from ckptlens.analysis.by_kind import kind_summary
from ckptlens.analysis.probability_dynamics import DynamicsSummary, MarginBin
from ckptlens.analysis.stability import StabilityRow
from ckptlens.analysis.stability_phases import PhaseReduction, reductions
from ckptlens.diagnostics.representation_series import RepresentationRow
from ckptlens.report.data import ReportData
from ckptlens.report.html import Page
from ckptlens.report.representations import stored_rows

HELPS = 20.0  # percent of raw example MTV a method must remove in a phase to count as beneficial there


def phase_answer(found: list[PhaseReduction], rows: list[StabilityRow]) -> str:
    """Whether the best integrated method removes instability in every phase, with each phase's numbers."""
    phases = sorted({r.phase for r in found if r.method != "raw" and r.example_mtv_reduction is not None})
    if not phases:
        return ("Through training: no phase has both raw and integrated rows of tasks that learned, so the question "
                "cannot be answered from this store.")
    parts, helped = [], []
    for phase in phases:
        best = max((r for r in found if r.phase == phase and r.method != "raw" and r.example_mtv_reduction is not None),
                   key=lambda r: r.example_mtv_reduction)
        clear = _clear_tasks(rows, best)
        parts.append(f"phase {phase} (steps {best.first_step}–{best.last_step}): {best.method} of {best.window} "
                     f"{best.raw_example_mtv:.3f} → {best.example_mtv:.3f} ({best.example_mtv_reduction:+.0f}%"
                     f"; below raw's interval in {clear[0]} of {clear[1]} tasks)")
        helped.append(best.example_mtv_reduction >= HELPS)
    missing = sorted({r.phase for r in found} - set(phases))
    head = ("Through training: integration cuts example MTV by at least "
            f"{HELPS:.0f}% in every phase measured" if all(helped) else
            "Through training: integration helps in some phases only")
    tail = f"; phases {', '.join(map(str, missing))} have no task above chance" if missing else ""
    return f"{head}: " + "; ".join(parts) + tail + "."


def _clear_tasks(rows: list[StabilityRow], best: PhaseReduction) -> tuple[int, int]:
    """Tasks of the phase where the method's example MTV interval lies below raw's (and how many have both)."""
    by_task = {}
    for r in rows:
        if r.run == best.run and r.phase == best.phase and not r.near_chance:
            by_task.setdefault(r.task, {})[(r.method, r.window)] = r
    both = [(t[("raw", 1)], t[(best.method, best.window)]) for t in by_task.values()
            if ("raw", 1) in t and (best.method, best.window) in t]
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
    removed = [(s.removed_low, s.removed_high) for _, s in results if s.removed_low is not None and
               s.removed_high is not None]
    lead = (f"Probability dynamics: a small |margin| predicts a flip in {len(predicts)} of {len(results)} tasks (ρ's "
            "interval below 0)")
    ensemble = ""
    if removed:
        low = sum(a for a, _ in removed) / len(removed)
        high = sum(b for _, b in removed) / len(removed)
        ensemble = (f". The window-{results[0][1].window} ensemble removes {low:.0%} of raw flips among small-margin "
                    f"pairs and {high:.0%} among large-margin ones (mean over tasks): it stabilises "
                    + ("mostly the low-margin examples" if low > high else "small and large margins alike"
                       if abs(low - high) < 0.05 else "mostly the high-margin examples"))
    return lead + ": " + "; ".join(told) + ensemble + "."


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
