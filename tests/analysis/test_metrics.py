"""Every metric pinned to hand-computed values and to a direct numpy reading of DESIGN.md."""

import numpy as np
import pytest

from ckptlens.analysis import metrics
from ckptlens.errors import CkptlensError

# 3 examples x 4 checkpoints; columns are checkpoints in step order.
CORRECT = np.array(
    [
        [1, 0, 1, 1],
        [0, 1, 0, 0],
        [1, 1, 1, 0],
    ]
)


def test_task_mtv_by_hand():
    # |0.7-0.5| + |0.6-0.7| + |0.9-0.6| = 0.6 over 3 transitions
    assert metrics.task_mtv(np.array([0.5, 0.7, 0.6, 0.9])) == pytest.approx(0.2)


def test_example_mtv_by_hand():
    # example changes: 2, 2, 1 of 3 transitions each -> (2/3 + 2/3 + 1/3) / 3
    assert metrics.example_mtv(CORRECT) == pytest.approx(5 / 9)


def test_task_mtv_zero_while_examples_flip():
    swapped = np.array([[1, 0, 1, 0], [0, 1, 0, 1]])
    assert metrics.task_mtv(swapped.mean(axis=0)) == 0.0
    assert metrics.example_mtv(swapped) == 1.0


def test_instability_score_counts_changes_between_wrong_answers():
    # gold is 0; the model moves from wrong option 2 to wrong option 3: correctness is constant
    choices = np.array([[2, 3, 3, 2]])
    correct = (choices == 0).astype(float)
    assert metrics.example_mtv(correct) == 0.0
    assert metrics.instability_score(choices) == pytest.approx(2 / 3)


def test_instability_score_char_f1_is_softer_than_exact_match():
    outputs = np.array([["Paris", "Pariss", "Paris"]], dtype=object)
    assert metrics.instability_score(outputs) == 1.0
    soft = metrics.instability_score_char_f1(outputs)
    # llm-jp-eval's char_f1: Indel similarity of "paris"/"pariss" = 10/11 -> 91/100
    assert soft == pytest.approx(1 - 0.91)


def test_std_relative_std_monotonicity_by_hand():
    s = np.array([0.2, 0.4, 0.4, 0.3])
    assert metrics.score_std(s) == pytest.approx(np.sqrt(((s - 0.325) ** 2).mean()))
    assert metrics.relative_std(s) == pytest.approx(metrics.score_std(s) / 0.325)
    assert metrics.monotonicity(s) == 0.0  # one up, one down, one flat
    assert metrics.monotonicity(np.array([0.1, 0.2, 0.3])) == 1.0
    assert metrics.monotonicity(np.array([0.3, 0.3])) == 0.0


def test_flip_fraction_and_forgetting_events_by_hand():
    assert metrics.flip_fraction(CORRECT) == 1.0
    assert metrics.flip_fraction(np.array([[1, 1, 1], [0, 1, 1]])) == 0.5
    # correct -> wrong: example 0 at t=0; example 1 at t=1; example 2 at t=2
    assert metrics.forgetting_events(CORRECT) == 3


def test_against_direct_formulas_on_random_trajectories():
    rng = np.random.default_rng(0)
    correct = (rng.random((50, 9)) < 0.6).astype(float)
    m = correct.shape[1]
    direct_example = np.mean([sum(abs(row[t + 1] - row[t]) for t in range(m - 1)) / (m - 1) for row in correct])
    s = correct.mean(axis=0)
    direct_task = sum(abs(s[t + 1] - s[t]) for t in range(m - 1)) / (m - 1)
    assert metrics.example_mtv(correct) == pytest.approx(direct_example)
    assert metrics.task_mtv(s) == pytest.approx(direct_task)


@pytest.mark.parametrize(
    "call", [lambda: metrics.task_mtv(np.array([0.5])), lambda: metrics.example_mtv(np.ones((3, 1)))]
)
def test_one_checkpoint_is_a_clear_error(call):
    with pytest.raises(CkptlensError, match="at least 2 checkpoints"):
        call()
