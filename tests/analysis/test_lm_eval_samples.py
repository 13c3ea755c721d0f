"""Synthetic lm-eval sample files (the real format) -> import -> stability, every number against plain numpy.

(``tests/importers/test_cli.py`` runs the same path through the command line.)

The reference below implements the DESIGN.md formulas directly and shares no code with ckptlens.
"""

import numpy as np
import pytest

from ckptlens.analysis.stability import StabilityConfig, stability_table
from ckptlens.importers import import_lm_eval
from ckptlens.store import Store
from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format

STEPS = list(range(100, 1300, 100))  # 12 checkpoints; the final 20% is steps >= 960: 1000, 1100, 1200
N_EXAMPLES, N_CHOICES = 60, 4


@pytest.fixture(scope="module")
def logliks():
    rng = np.random.default_rng(5)
    skill = rng.normal(0, 1, N_EXAMPLES)  # some examples are easy, some hard: not all flip
    ll = rng.normal(-3, 1, (len(STEPS), N_EXAMPLES, N_CHOICES))
    ll[:, :, 0] += (skill + np.linspace(0, 2, len(STEPS))[:, None])  # option 0 (gold) gets likelier with training
    return np.round(ll, 6)


@pytest.fixture(scope="module")
def rows(logliks, tmp_path_factory):
    out = tmp_path_factory.mktemp("lm_eval_out")
    for k, step in enumerate(STEPS):
        samples = [ChoiceSample(i, f"q{i}", [f"o{c}" for c in range(N_CHOICES)], 0, logliks[k, i].tolist())
                   for i in range(N_EXAMPLES)]
        write_new_format(out, Checkpoint(f"step{step}", {"arc_easy": samples}, stamp=f"2024-01-01T00-00-{k:02d}.0"),
                         folder="EleutherAI__pythia-160m")
    store = Store(out / "store")
    import_lm_eval([out], store, run="r")
    config = StabilityConfig(windows=(2, 4), rules=("vote", "mean-logprob", "mean-prob"), bootstrap=0)
    return {(r.method, r.window): r.to_dict() for r in stability_table(store, config)}


def reference(correct: np.ndarray, answers: np.ndarray) -> dict:
    """DESIGN.md, literally: correct and answers are (examples, checkpoints in the window)."""
    s = correct.mean(axis=0)
    m = correct.shape[1]
    steps = np.diff(s)
    return {
        "mean_score": s.mean(),
        "task_mtv": sum(abs(s[t + 1] - s[t]) for t in range(m - 1)) / (m - 1),
        "example_mtv": np.mean([sum(abs(row[t + 1] - row[t]) for t in range(m - 1)) / (m - 1) for row in correct]),
        "instability_score": np.mean([sum(row[t + 1] != row[t] for t in range(m - 1)) / (m - 1) for row in answers]),
        "std": s.std(),
        "relative_std": s.std() / s.mean(),
        "monotonicity": ((steps > 0).sum() - (steps < 0).sum()) / max((steps != 0).sum(), 1),
        "flip_fraction": np.mean([len(set(row)) > 1 for row in correct]),
        "forgetting_events": int(sum(row[t] == 1 and row[t + 1] == 0 for row in correct for t in range(m - 1))),
    }


def ensemble(ll: np.ndarray, rule: str) -> np.ndarray:
    """One window (n, examples, choices) -> chosen option per example."""
    if rule == "mean-logprob":
        return ll.mean(axis=0).argmax(axis=1)
    if rule == "mean-prob":
        p = np.exp(ll - ll.max(axis=2, keepdims=True))
        return (p / p.sum(axis=2, keepdims=True)).mean(axis=0).argmax(axis=1)
    votes = ll.argmax(axis=2)
    chosen = []
    for i in range(ll.shape[1]):
        counts = np.bincount(votes[:, i], minlength=ll.shape[2])
        tied = np.flatnonzero(counts == counts.max())
        chosen.append(tied[np.argmax(ll[:, i, tied].mean(axis=0))])
    return np.array(chosen)


def window_indices() -> list[int]:
    return [k for k, s in enumerate(STEPS) if s >= 0.8 * STEPS[-1]]


def test_raw_row(rows, logliks):
    answers = logliks.argmax(axis=2).T[:, window_indices()]
    expected = reference((answers == 0).astype(float), answers)
    for name, value in expected.items():
        assert rows[("raw", 1)][name] == pytest.approx(value), name


@pytest.mark.parametrize("rule", ["vote", "mean-logprob", "mean-prob"])
@pytest.mark.parametrize("n", [2, 4])
def test_ensemble_rows(rows, logliks, rule, n):
    answers = np.stack([ensemble(logliks[t - n + 1 : t + 1], rule) for t in window_indices()], axis=1)
    expected = reference((answers == 0).astype(float), answers)
    for name, value in expected.items():
        assert rows[(f"ensemble-{rule}", n)][name] == pytest.approx(value), (rule, n, name)
