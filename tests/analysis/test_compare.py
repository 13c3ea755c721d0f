import math

import numpy as np
import pytest

from ckptlens.analysis.compare import compare_steps, mcnemar_exact, min_detectable_difference, neighbour_comparisons
from ckptlens.analysis.matrix import TaskMatrix
from ckptlens.errors import CkptlensError


def matrix(score: np.ndarray, steps=(10, 20, 30)) -> TaskMatrix:
    e, m = score.shape
    return TaskMatrix(
        run="r", task="t", kind="multiple_choice", category="c", steps=np.array(steps),
        checkpoints=tuple(map(str, steps)), example_ids=np.array([f"e{i}" for i in range(e)]), score=score,
        pred=np.zeros((e, m), int), gold=np.zeros(e, int), logliks=np.zeros((m, e, 2)),
        outputs=np.full((e, m), "", object), targets=np.full(e, "", object),
    )


def test_mcnemar_by_hand():
    # 2 * (C(12,0) + C(12,1) + C(12,2)) / 2^12
    assert mcnemar_exact(10, 2) == pytest.approx(2 * (1 + 12 + 66) / 4096)
    assert mcnemar_exact(0, 0) == 1.0 and mcnemar_exact(6, 6) == 1.0
    assert mcnemar_exact(0, 8) == pytest.approx(2 / 256)


def test_mcnemar_matches_a_direct_binomial_sum_for_large_counts():
    b, c = 2900, 3100
    direct = 2 * sum(math.comb(b + c, k) for k in range(b + 1)) / 2 ** (b + c)
    assert mcnemar_exact(b, c) == pytest.approx(direct) and 0 < mcnemar_exact(b, c) < 0.02


def test_compare_counts_discordant_examples():
    score = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]], float)
    result = compare_steps(matrix(score), 10, 20)
    assert (result.lost, result.gained, result.n_examples) == (2, 1, 5)
    assert result.difference == pytest.approx(-0.2)
    assert result.p_value == 1.0 and not result.significant
    assert result.min_detectable_difference == pytest.approx(min_detectable_difference(5, 3 / 5))
    assert [c.step_b for c in neighbour_comparisons(matrix(score))] == [20, 30]


def test_min_detectable_difference_shrinks_with_task_size():
    assert min_detectable_difference(10_000, 0.1) < min_detectable_difference(100, 0.1) / 9
    assert min_detectable_difference(1000, 0.1) == pytest.approx(2.8016 * math.sqrt(0.1 / 1000), rel=1e-4)


def test_unknown_step_lists_the_steps():
    with pytest.raises(CkptlensError, match="no checkpoint at step 15; steps: 10, 20, 30"):
        compare_steps(matrix(np.zeros((2, 3))), 10, 15)
