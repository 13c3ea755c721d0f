"""Check issue 24's answers (phases, probability dynamics, by kind) on a store against a direct computation.

    python bench/open_questions_demo.py --store STORE [--phases 4] [--window 4] [--bootstrap 1000]

Runs the ``ckptlens`` commands themselves (``records``, ``stability --phases``, ``stability --last``,
``dynamics``, ``stability --by kind``) in subprocesses and recomputes their numbers from the ``records`` export
alone with numpy, following the definitions of DESIGN.md, with no ckptlens function involved:

- phases: for each of K spans ``[(k−1)/K, k/K] × last step`` (ends included), the raw rows' steps (the span's
  checkpoints that every method covers: an ensemble of n needs n − 1 predecessors in the run, an averaged run
  its own checkpoint at the step; a method covering none of the span is left out), mean score, task MTV,
  example MTV and instability score (exact match of the chosen option or of the generated text);
- ``--phases 5``'s last phase against ``--last 0.2``: every numeric field of every row;
- dynamics: margin = gold log-likelihood − best other's, pairs (i, t → t+1) of the final ``--last`` window,
  deciles of |margin| (``numpy.quantile`` edges, each bin closed on the left, the last closed on both ends), flip
  rates with the Wilson interval from its formula, the ensemble (mean of the window's log-likelihoods, argmax)
  flip rate per bin, the Spearman correlation (ranks with ties averaged, then Pearson) and the share of raw flips
  the ensemble removes below / above the median |margin|.

Prints each figure and the largest |Δ|; exits 1 when a |Δ| reaches 1e-9 or a step span differs.
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np

TOLERANCE = 1e-9
Z = 1.959963984540054  # the normal 97.5% quantile: 95% two-sided
FIELDS = ("mean_score", "task_mtv", "example_mtv", "instability_score")


def cli(*args: str) -> str:
    """stdout of ``ckptlens ARGS`` (warnings on stderr are passed through)."""
    done = subprocess.run([sys.executable, "-m", "ckptlens", *args], capture_output=True, text=True, check=False)
    sys.stderr.write(done.stderr)
    if done.returncode:
        raise SystemExit(f"ckptlens {' '.join(args)} failed ({done.returncode})")
    return done.stdout


def load_records(store: str) -> dict:
    """{(run, task): {"steps", "ids", "score" (E, T), "output" (E, T), "logliks" (T, E, C), "gold"}}."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "records.jsonl"
        cli("records", "--store", store, "--out", str(out))
        lines = out.read_text().splitlines()
    cells: dict = defaultdict(dict)
    for line in lines:
        r = json.loads(line)
        cells[(r["run"], r["task"])][(r["example_id"], r["step"])] = r
    matrices = {}
    for key, found in cells.items():
        steps = sorted({s for _, s in found})
        ids = sorted({e for e, _ in found})
        rows = [[found[(e, s)] for s in steps] for e in ids]
        generation = rows[0][0]["kind"] == "generation"
        matrices[key] = {
            "steps": np.array(steps), "ids": ids, "generation": generation,
            "score": np.array([[c["score"] for c in row] for row in rows], dtype=float),
            "output": np.array([[c["output"] if generation else c["pred"] for c in row] for row in rows], dtype=object),
            "logliks": None if generation else np.array([[c["logliks"] for c in row] for row in rows]).transpose(
                1, 0, 2),
            "gold": None if generation else np.array([row[0]["gold"] for row in rows]),
        }
    return matrices


def direct_metrics(score: np.ndarray, output: np.ndarray) -> dict:
    """DESIGN.md's definitions over the columns given (E examples × m checkpoints)."""
    curve = score.mean(axis=0)
    changed = (output[:, 1:] != output[:, :-1]).astype(float)
    return {"mean_score": curve.mean(), "task_mtv": np.abs(np.diff(curve)).mean(),
            "example_mtv": np.abs(np.diff(score, axis=1)).mean(axis=1).mean(),
            "instability_score": changed.mean(axis=1).mean()}


def covered_steps(matrices: dict, run: str, task: str, lo: float, hi: float, windows: list[int]) -> list[int]:
    """The span's steps every method covers (ensembles: n − 1 predecessors; averages: their own checkpoints)."""
    steps = matrices[(run, task)]["steps"]
    inside = [i for i, s in enumerate(steps) if lo <= s <= hi]
    shared = {int(steps[i]) for i in inside}
    for n in windows:
        ensemble = {int(steps[i]) for i in inside if i >= n - 1}
        averaged = matrices.get((f"{run}-avg{n}", task))
        average = {int(s) for s in averaged["steps"] if lo <= s <= hi} if averaged else set()
        for covered in (ensemble, average):
            if covered:
                shared &= covered
    return sorted(shared)


def check_phases(store: str, matrices: dict, k: int, windows: list[int]) -> float:
    rows = json.loads(cli("stability", "--store", store, "--phases", str(k), "--format", "json", "--bootstrap", "0"))
    worst = 0.0
    print(f"\n== stability --phases {k}: raw rows against the records export ==")
    for r in (r for r in rows if r["method"] == "raw"):
        m = matrices[(r["run"], r["task"])]
        last = m["steps"].max()
        steps = covered_steps(matrices, r["run"], r["task"], (r["phase"] - 1) / k * last, r["phase"] / k * last,
                              windows)
        if (steps[0], steps[-1], len(steps)) != (r["first_step"], r["last_step"], r["n_checkpoints"]):
            raise SystemExit(f"{r['run']}/{r['task']} phase {r['phase']}: ckptlens steps {r['first_step']}-"
                             f"{r['last_step']}, direct {steps[0]}-{steps[-1]}")
        cols = np.isin(m["steps"], steps)
        direct = direct_metrics(m["score"][:, cols], m["output"][:, cols])
        delta = max(abs(direct[f] - r[f]) for f in FIELDS)
        worst = max(worst, delta)
        print(f"phase {r['phase']} {r['task']:<15} steps {steps[0]:>3}-{steps[-1]:<3} "
              + " ".join(f"{f}={r[f]:.4f}" for f in FIELDS) + f"  max|Δ|={delta:.1e}")
    print(f"max |Δ| over raw rows and {', '.join(FIELDS)}: {worst:.2e}")
    return worst


def check_last_phase(store: str) -> float:
    phases = json.loads(cli("stability", "--store", store, "--phases", "5", "--format", "json", "--bootstrap", "0"))
    final = json.loads(cli("stability", "--store", store, "--last", "0.2", "--format", "json", "--bootstrap", "0"))
    key = lambda r: (r["run"], r["task"], r["method"], r["window"])  # noqa: E731
    last = {key(r): r for r in phases if r["phase"] == 5}
    if set(last) != {key(r) for r in final}:
        raise SystemExit(f"--phases 5's last phase has rows {sorted(set(last) ^ {key(r) for r in final})} "
                         "that --last 0.2 lacks or the other way round")
    worst, differing = 0.0, []
    for r in final:
        for f, v in r.items():
            if f == "phase":
                continue
            other = last[key(r)][f]
            if isinstance(v, float) and isinstance(other, float):
                worst = max(worst, abs(v - other))
            elif v != other:
                differing.append((key(r), f, v, other))
    print(f"\n== --phases 5 last phase against --last 0.2: {len(final)} rows, max |Δ| {worst:.2e}, "
          f"{len(differing)} non-numeric fields differ ==")
    for d in differing[:5]:
        print("  differs:", d)
    return worst if not differing else math.inf


def wilson(k: int, n: int) -> tuple[float, float]:
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return centre - half, centre + half


def _interval(k: int, n: int) -> str:
    lo, hi = wilson(k, n)
    return f"[{lo:.3f}, {hi:.3f}]"


def ranks(x: np.ndarray) -> np.ndarray:
    """Ranks 1..n, ties given their average rank."""
    order = np.argsort(x, kind="stable")
    sorted_x = x[order]
    out = np.empty(len(x))
    start = 0
    for end in range(1, len(x) + 1):
        if end == len(x) or sorted_x[end] != sorted_x[start]:
            out[order[start:end]] = (start + end + 1) / 2
            start = end
    return out


def direct_dynamics(m: dict, last: float, window: int):
    steps, ll, gold, score = m["steps"], m["logliks"], m["gold"], m["score"]
    kept = [i for i, s in enumerate(steps) if s >= (1 - last) * steps.max()]
    cols = kept[:-1]
    e = np.arange(len(gold))
    other = ll.copy()
    other[:, e, gold] = -np.inf
    margin = np.abs(ll[:, e, gold] - other.max(axis=2)).T[:, cols]
    flipped = np.array([[score[i, t + 1] != score[i, t] for t in cols] for i in e], dtype=int)
    # window-n mean-logprob ensemble: its output at checkpoint t combines t−n+1 … t; a pair counts when t ≥ n − 1
    right = {t: (ll[t - window + 1: t + 1].mean(axis=0).argmax(axis=1) == gold).astype(int)
             for t in range(window - 1, len(steps))}
    ens = np.array([[abs(right[t + 1][i] - right[t][i]) if t >= window - 1 else -1 for t in cols] for i in e])
    edges = np.quantile(margin, np.linspace(0, 1, 11))
    bins = []
    for b in range(10):
        inside = (margin >= edges[b]) & ((margin < edges[b + 1]) if b < 9 else (margin <= edges[b + 1]))
        n, k = int(inside.sum()), int(flipped[inside].sum())
        if not n:
            continue
        covered = inside & (ens >= 0)
        en, ek = int(covered.sum()), int(ens[covered].sum())
        bins.append({"bin": b + 1, "margin_lo": edges[b], "margin_hi": edges[b + 1], "n_pairs": n, "flips": k,
                     "flip_rate": k / n, "flip_rate_lo": wilson(k, n)[0], "flip_rate_hi": wilson(k, n)[1],
                     "ensemble_pairs": en, "ensemble_flips": ek, "ensemble_flip_rate": ek / en if en else None})
    x, y = ranks(margin.ravel()), ranks(flipped.ravel().astype(float))
    rho = float(np.corrcoef(x, y)[0, 1])
    low = margin <= np.median(margin)
    raw_flip = (flipped == 1) & (ens >= 0)
    removed = raw_flip & (ens == 0)
    summary = {"n_pairs": margin.size, "flip_rate": flipped.mean(), "spearman": rho,
               "removed_low": (removed & low).sum() / (raw_flip & low).sum(),
               "removed_high": (removed & ~low).sum() / (raw_flip & ~low).sum(),
               "raw_flips_low": (raw_flip & low).sum(), "raw_flips_high": (raw_flip & ~low).sum(),
               "removed_flips_low": (removed & low).sum(), "removed_flips_high": (removed & ~low).sum(),
               "first_step": int(steps[kept[0]]), "last_step": int(steps[kept[-1]])}
    return bins, summary


def check_dynamics(store: str, matrices: dict, last: float, window: int, bootstrap: int) -> float:
    out = json.loads(cli("dynamics", "--store", store, "--last", str(last), "--window", str(window),
                         "--bootstrap", str(bootstrap), "--format", "json"))
    worst = 0.0
    print(f"\n== dynamics --last {last} --window {window}: against the records export ==")
    for s in out["summary"]:
        bins, summary = direct_dynamics(matrices[(s["run"], s["task"])], last, window)
        mine = [b for b in out["bins"] if b["run"] == s["run"] and b["task"] == s["task"]]
        if [b["bin"] for b in mine] != [b["bin"] for b in bins]:
            raise SystemExit(f"{s['task']}: bins {[b['bin'] for b in mine]} against direct {[b['bin'] for b in bins]}")
        for theirs, direct in zip(mine, bins):
            for f, v in direct.items():
                if v is not None:
                    worst = max(worst, abs(theirs[f] - v))
        for f, v in summary.items():
            worst = max(worst, abs(s[f] - v))
        print(f"{s['task']}: steps {s['first_step']}-{s['last_step']}, {s['n_pairs']} pairs, flip rate "
              f"{s['flip_rate']:.3f}; Spearman(|margin|, flip) {s['spearman']:.3f} "
              f"[{s['spearman_lo']:.3f}, {s['spearman_hi']:.3f}] (direct {summary['spearman']:.3f}); ensemble "
              f"(window {window}) removes {s['removed_flips_low']}/{s['raw_flips_low']} raw flips below the median "
              f"|margin|, {s['removed_flips_high']}/{s['raw_flips_high']} above")
        for b in mine:
            ens = "-" if b["ensemble_flip_rate"] is None else f"{b['ensemble_flip_rate']:.3f}"
            print(f"   decile {b['bin']:>2} |m| {b['margin_lo']:.3f}-{b['margin_hi']:.3f} n={b['n_pairs']:>4} "
                  f"flip {b['flip_rate']:.3f} [{b['flip_rate_lo']:.3f}, {b['flip_rate_hi']:.3f}]  ensemble {ens}")
    pooled = {k: sum(s[k] for s in out["summary"]) for k in
              ("removed_flips_low", "raw_flips_low", "removed_flips_high", "raw_flips_high")}
    low, high = (pooled["removed_flips_low"], pooled["raw_flips_low"]), (pooled["removed_flips_high"],
                                                                          pooled["raw_flips_high"])
    print(f"pooled over tasks: ensemble removes {low[0]}/{low[1]} = {low[0] / low[1]:.3f} {_interval(*low)} below "
          f"the median |margin|, {high[0]}/{high[1]} = {high[0] / high[1]:.3f} {_interval(*high)} above; "
          f"{low[0] / (low[0] + high[0]):.3f} of removed flips are below")
    print(f"max |Δ| over bins and summaries: {worst:.2e}")
    return worst


def show_by_kind(store: str, bootstrap: int) -> None:
    rows = json.loads(cli("stability", "--store", store, "--by", "kind", "--format", "json", "--bootstrap",
                          str(bootstrap)))
    print("\n== stability --by kind (means over tasks; the table view names the tasks left out) ==")
    for r in rows:
        print(f"{r['run']} {r['score_kind']:<24} {r['method']:<32} {r['window'] or '-':>2} n_tasks={r['n_tasks']} "
              f"example_mtv={r['example_mtv']:.4f} IS={r['instability_score']:.4f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--store", required=True)
    parser.add_argument("--phases", type=int, default=4)
    parser.add_argument("--windows", default="2,4,8", help="the stability command's default --windows")
    parser.add_argument("--window", type=int, default=4, help="dynamics' ensemble window")
    parser.add_argument("--bootstrap", type=int, default=1000, help="resamples for the printed intervals")
    args = parser.parse_args()
    matrices = load_records(args.store)
    windows = [int(w) for w in args.windows.split(",")]
    worst = [check_phases(args.store, matrices, args.phases, windows), check_last_phase(args.store)]
    for last in (0.2, 1.0):
        worst.append(check_dynamics(args.store, matrices, last, args.window, args.bootstrap))
    show_by_kind(args.store, args.bootstrap)
    print(f"\nlargest |Δ| of all checks: {max(worst):.2e} ({'met' if max(worst) < TOLERANCE else 'NOT met'}: < 1e-9)")
    raise SystemExit(0 if max(worst) < TOLERANCE else 1)


if __name__ == "__main__":
    main()
