import numpy as np

from ckptlens.analysis.groups import task_scores, weighted_means
from ckptlens.analysis.matrix import TaskMatrix


def _matrix(task: str, scores: list[list[float]], steps=(10, 20)) -> TaskMatrix:
    score = np.array(scores, dtype=float)
    n, m = score.shape
    return TaskMatrix(run="r", task=task, kind="multiple_choice", category="mmlu", steps=np.array(steps),
                      checkpoints=tuple(f"s{s}" for s in steps), example_ids=np.arange(n).astype(str), score=score,
                      pred=np.zeros((n, m), int), gold=np.zeros(n, int), logliks=np.zeros((m, n, 0)),
                      outputs=np.full((n, m), "", object), targets=np.full(n, "", object))


def test_a_group_score_weighs_its_tasks_by_size_as_lm_eval_does():
    small = _matrix("mmlu_a", [[1.0, 0.0]])  # 1 example: 1.0 then 0.0
    large = _matrix("mmlu_b", [[0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])  # 3 examples: 0.0 then 1.0
    rows = weighted_means([small, large])
    assert [(r["step"], r["score"], r["n_examples"]) for r in rows] == [(10, 0.25, 4), (20, 0.75, 4)]


def test_task_scores_are_each_tasks_mean_per_step_and_a_group_needs_every_tasks_step():
    small = _matrix("mmlu_a", [[1.0, 0.0]])
    late = _matrix("mmlu_b", [[1.0, 1.0], [0.0, np.nan]], steps=(20, 30))  # an example without a score at 30
    assert [(r["task"], r["step"], r["score"], r["n_examples"]) for r in task_scores([late, small])] == [
        ("mmlu_a", 10, 1.0, 1), ("mmlu_a", 20, 0.0, 1), ("mmlu_b", 20, 0.5, 2), ("mmlu_b", 30, 1.0, 1)]
    assert [(r["step"], r["score"], r["n_examples"]) for r in weighted_means([small, late])] == [(20, 1 / 3, 3)]
