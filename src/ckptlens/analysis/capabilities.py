"""Capability analysis across training and model sizes (after Yang et al., *The Fine Line*, 2024).

From one score curve per (run, task), with runs of different sizes:

- ``dynamics``: per run and task, the gain, when 50% and 90% of it is reached,
  the phase (rapid rise, slow rise, plateau, decline) in each third of
  training, monotonicity, task MTV over the final window, and the correlation
  of the score with the run's loss (validation loss, or log LAMBADA perplexity);
- ``similarity``: per pair of runs, the mean correlation of their min-max
  normalised curves (do sizes develop alike?), over all tasks and per category;
- ``ranking``: per task and step shared by every run, Kendall's tau between the
  sizes' ranking at that step and at the last shared step (does early tell?);
- ``snr``: per task and third of training, the spread across sizes over the
  checkpoint-to-checkpoint noise, with monotonicity; and a short ranked
  recommendation of which tasks to watch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ckptlens.analysis import metrics
from ckptlens.analysis.curves import ALIGNMENTS, Curve, loss_curves, run_sizes, task_curves
from ckptlens.analysis.dynamics import dominant_phase, milestone
from ckptlens.analysis.scaling import kendall_tau, pearson, shape_similarity, signal_to_noise
from ckptlens.errors import CkptlensError
from ckptlens.store import Store
from ckptlens.tasks.chance import near_chance

THIRDS = (("early", 0.0, 1 / 3), ("middle", 1 / 3, 2 / 3), ("late", 2 / 3, 1.0 + 1e-9))
# columns of the tables that are empty with too few sizes (CSV files keep their header)
SIMILARITY_COLUMNS = ("run_a", "run_b", "category", "n_tasks", "correlation")
RANKING_COLUMNS = ("task", "step", "kendall_tau")


@dataclass(frozen=True)
class CapabilityConfig:
    align: str = "step"  # x axis for curves and milestones: step | tokens | fraction
    metric: str | None = None  # per-example metric (None: each task's first); imports without samples: acc
    last: float = 0.2  # final fraction of training for the stability figure
    categories: dict[str, str] | None = None  # user overrides {task regex: category}


@dataclass
class Capabilities:
    curves: list[Curve]
    sizes: dict[str, int | None]
    runs: list[str]  # by size, smallest first
    dynamics: list[dict] = field(default_factory=list)
    category_curves: list[dict] = field(default_factory=list)
    similarity: list[dict] = field(default_factory=list)
    ranking: list[dict] = field(default_factory=list)
    snr: list[dict] = field(default_factory=list)
    recommendations: list[str] = field(default_factory=list)


def capability_analysis(store: Store, config: CapabilityConfig = CapabilityConfig()) -> Capabilities:
    """Every table of the module docstring, computed from the store."""
    if config.align not in ALIGNMENTS:
        raise CkptlensError(f"--align must be one of {', '.join(ALIGNMENTS)}, got {config.align!r}")
    curves = [c for c in task_curves(store, config.metric, config.categories) if len(c.steps) >= 2]
    if not curves:
        raise CkptlensError(f"no task with at least 2 checkpoints of {config.metric!r} scores in {store.root}")
    sizes = run_sizes(store)
    runs = sorted({c.run for c in curves}, key=lambda r: (sizes.get(r) is None, sizes.get(r) or 0, r))
    result = Capabilities(curves, sizes, runs)
    losses = loss_curves(store)
    result.dynamics = [_dynamics_row(c, sizes.get(c.run), losses.get(c.run), config) for c in curves]
    result.category_curves = _category_curves(curves, config.align)
    result.similarity = _similarity(curves, runs)
    result.ranking = _ranking(curves, runs)
    result.snr = _snr(curves, runs)
    result.recommendations = recommend(result.snr, result.dynamics, len(runs))
    return result


def recommend(snr: list[dict], dynamics: list[dict], n_runs: int, top: int = 3) -> list[str]:
    """Which tasks' scores to watch late in training, and which to distrust, in plain sentences.

    Tasks near chance in every size (``tasks.chance.near_chance`` over the final window) are never "watch".
    """
    if n_runs < 2:
        ranked = sorted((d for d in dynamics if not d["near_chance"]), key=lambda d: -abs(d["monotonicity"]))
        return [f"watch {d['task']}: monotonicity {d['monotonicity']:+.2f} over training"
                + ("" if d["task_mtv_last"] is None else f", final-window task MTV {d['task_mtv_last']:.3f}")
                + " (signal-to-noise across sizes needs at least two runs)" for d in ranked[:top]]
    late = sorted((r for r in snr if r["stretch"] == "late" and np.isfinite(r["snr"])), key=lambda r: -r["snr"])
    learned = {d["task"] for d in dynamics if not d["near_chance"]}  # at chance in every size: nothing to watch
    watched = [r for r in late if r["task"] in learned][:top]
    lines = [f"watch {r['task']}: sizes differ by {r['snr']:.1f}x its checkpoint-to-checkpoint noise late in "
             f"training (monotonicity {r['monotonicity']:+.2f})" for r in watched]
    lines += [f"do not decide on {r['task']} alone: its checkpoint-to-checkpoint noise is larger than the spread "
              f"across sizes late in training (SNR {r['snr']:.2f})" for r in late if r["snr"] < 1][:top]
    return lines


def _dynamics_row(curve: Curve, n_params, loss, config: CapabilityConfig) -> dict:
    fraction, x = curve.x("fraction"), curve.x(config.align)
    tail = curve.scores[curve.steps >= (1 - config.last) * curve.steps[-1]]  # too short a tail: no MTV, no error
    row = {
        "run": curve.run, "n_params": n_params, "task": curve.task, "category": curve.category,
        "initial": float(curve.scores[0]), "final": float(curve.scores[-1]),
        "gain": float(curve.scores[-1] - curve.scores[0]),
        f"{config.align}_50": _finite(milestone(x, curve.scores, 0.5)),
        f"{config.align}_90": _finite(milestone(x, curve.scores, 0.9)),
        **{f"phase_{name}": dominant_phase(fraction, curve.scores, lo, hi) for name, lo, hi in THIRDS},
        "monotonicity": metrics.monotonicity(curve.scores),
        "task_mtv_last": metrics.task_mtv(tail) if len(tail) >= 2 else None,
        "loss_correlation": None,
        "chance": curve.chance,
        "near_chance": near_chance(float(tail.mean()) if len(tail) else float(curve.scores[-1]), curve.chance,
                                   curve.n_examples),
    }
    if loss is not None:
        steps, values, _ = loss
        shared, i, j = np.intersect1d(curve.steps, steps, return_indices=True)
        row["loss_correlation"] = _finite(pearson(curve.scores[i], values[j])) if len(shared) else None
    return row


def _category_curves(curves: list[Curve], align: str) -> list[dict]:
    """Mean score of each category's tasks per (run, step), on steps every task of the category has."""
    groups: dict[tuple[str, str], list[Curve]] = {}
    for c in curves:
        groups.setdefault((c.run, c.category), []).append(c)
    rows = []
    for (run, category), members in sorted(groups.items()):
        steps = members[0].steps
        for c in members[1:]:
            steps = np.intersect1d(steps, c.steps)
        x = dict(zip(members[0].steps, members[0].x(align)))
        for step in steps:
            score = np.mean([c.scores[np.searchsorted(c.steps, step)] for c in members])
            rows.append({"run": run, "category": category, "step": int(step), "x": float(x[step]),
                         "score": float(score), "n_tasks": len(members)})
    return rows


def _similarity(curves: list[Curve], runs: list[str]) -> list[dict]:
    by_key = {(c.run, c.task): c for c in curves}
    rows = []
    for i, a in enumerate(runs):
        for b in runs[i + 1 :]:
            per_task = {}
            for (run, task), ca in by_key.items():
                cb = by_key.get((b, task))
                if run == a and cb is not None:
                    value = shape_similarity(ca.x("fraction"), ca.scores, cb.x("fraction"), cb.scores)
                    if np.isfinite(value):
                        per_task[task] = (ca.category, value)
            for category in ["all", *sorted({cat for cat, _ in per_task.values()})]:
                values = [v for cat, v in per_task.values() if category in ("all", cat)]
                if values:
                    rows.append(dict(zip(SIMILARITY_COLUMNS, (a, b, category, len(values), float(np.mean(values))))))
    return rows


def _ranking(curves: list[Curve], runs: list[str]) -> list[dict]:
    if len(runs) < 3:
        return []
    rows = []
    for task in sorted({c.task for c in curves}):
        members = {c.run: c for c in curves if c.task == task}
        if set(members) != set(runs):
            continue
        steps = members[runs[0]].steps
        for c in members.values():
            steps = np.intersect1d(steps, c.steps)
        if len(steps) < 2:
            continue
        final = [members[r].scores[np.searchsorted(members[r].steps, steps[-1])] for r in runs]
        for step in steps:
            now = [members[r].scores[np.searchsorted(members[r].steps, step)] for r in runs]
            rows.append(dict(zip(RANKING_COLUMNS, (task, int(step), _finite(kendall_tau(now, final))))))
    return rows


def _snr(curves: list[Curve], runs: list[str]) -> list[dict]:
    rows = []
    for task in sorted({c.task for c in curves}):
        members = [c for c in curves if c.task == task]
        for name, lo, hi in THIRDS:
            stretches = [c.scores[(c.x("fraction") >= lo) & (c.x("fraction") < hi)] for c in members]
            signal, noise, ratio = signal_to_noise(stretches)
            usable = [s for s in stretches if len(s) >= 2]
            rows.append({
                "task": task, "category": members[0].category, "stretch": name, "n_runs": len(usable),
                "signal": _finite(signal), "noise": _finite(noise), "snr": ratio,
                "monotonicity": float(np.mean([metrics.monotonicity(s) for s in usable])) if usable else None,
            })
    return rows


def _finite(value: float | None) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)
