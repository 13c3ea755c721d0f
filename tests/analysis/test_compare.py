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


def exact_big_integer(b: int, c: int) -> float:
    """The definition, summed in exact integers (the old implementation): the reference for small counts."""
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n)


@pytest.mark.parametrize("b, c", [(0, 1), (1, 0), (3, 9), (10, 2), (7, 8), (40, 10), (0, 60), (150, 230), (500, 420)])
def test_mcnemar_equals_the_exact_integer_sum(b, c):
    assert mcnemar_exact(b, c) == pytest.approx(exact_big_integer(b, c), rel=1e-10, abs=0)


def test_mcnemar_for_large_counts():
    # 2900 lost vs 3100 gained of 6000 discordant: z = 200 / sqrt(6000) = 2.58, two-sided normal p = 0.0098;
    # the exact tail with continuity correction, z = 199 / sqrt(6000), gives 0.0100
    assert mcnemar_exact(2900, 3100) == pytest.approx(0.0100, abs=2e-4)
    assert mcnemar_exact(0, 5000) == 0.0  # 2^-4999 is below the smallest float


def test_compare_counts_discordant_examples():
    score = np.array([[1, 0, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1], [0, 0, 0]], float)
    result = compare_steps(matrix(score), 10, 20)
    assert (result.lost, result.gained, result.n_examples) == (2, 1, 5)
    assert result.difference == pytest.approx(-0.2)
    assert result.p_value == 1.0 and not result.significant
    assert result.min_detectable_difference == pytest.approx(2.801585 * math.sqrt(3 / 5 / 5))
    assert [c.step_b for c in neighbour_comparisons(matrix(score))] == [20, 30]


def test_min_detectable_difference_shrinks_with_task_size():
    assert min_detectable_difference(10_000, 0.1) < min_detectable_difference(100, 0.1) / 9
    assert min_detectable_difference(1000, 0.1) == pytest.approx(2.8016 * math.sqrt(0.1 / 1000), rel=1e-4)


def test_unknown_step_lists_the_steps():
    with pytest.raises(CkptlensError, match="no checkpoint at step 15; steps: 10, 20, 30"):
        compare_steps(matrix(np.zeros((2, 3))), 10, 15)
