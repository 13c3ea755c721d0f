"""The interpolation path: its ends are the two checkpoints, its midpoint their average; barriers by hand."""

import pytest

from ckptlens.averaging import average_checkpoints
from ckptlens.checkpoints.loading import load_model
from ckptlens.diagnostics.interpolation import PathPoint, barriers, interpolation_path
from ckptlens.errors import CkptlensError
from ckptlens.evaluation.runner import EvalConfig, evaluate_task
from ckptlens.tasks.task_file import perplexity_task
from tests.evaluation.test_runner import CAPITALS

CPU = EvalConfig(device="cpu")


@pytest.fixture
def valid(tmp_path):
    path = tmp_path / "valid.txt"
    path.write_text("the capital of one is Paris . the cat runs . two plus two equals four .")
    return perplexity_task(path)


def direct(folder, tasks):
    """Each task's score (or loss in nats per token) of the model saved in ``folder``."""
    model, tokenizer = load_model(folder, device="cpu")
    values = {}
    for task in tasks:
        rows = evaluate_task(model, tokenizer, task)
        if task.kind == "perplexity":
            values[task.name] = sum(r["nll"] for r in rows) / sum(r["n_tokens"] for r in rows)
        else:
            values[task.name] = sum(r["score"] for r in rows) / len(rows)
    return values


def test_ends_are_the_checkpoints_and_the_midpoint_is_their_average(tiny_series, valid, tmp_path, one_thread):
    a, b = tiny_series / "step000010", tiny_series / "step000020"
    points = interpolation_path(a, b, [CAPITALS, valid], points=3, config=CPU)
    kinds = (("capitals", "score"), ("valid", "loss"))
    assert [(p.alpha, p.task, p.metric) for p in points] == [(a, t, m) for a in (0.0, 0.5, 1.0) for t, m in kinds]
    by = {(p.alpha, p.task): p.value for p in points}
    midpoint = average_checkpoints([a, b], tmp_path / "mid")
    for alpha, folder in ((0.0, a), (0.5, midpoint), (1.0, b)):
        expected = direct(folder, [CAPITALS, valid])
        assert by[(alpha, "capitals")] == expected["capitals"]
        assert by[(alpha, "valid")] == pytest.approx(expected["valid"], rel=1e-5)


def test_fewer_than_two_points_is_an_error(tiny_series, valid):
    with pytest.raises(CkptlensError, match="--points must be at least 2"):
        interpolation_path(tiny_series / "step000010", tiny_series / "step000020", [valid], points=1)


def curve(task, metric, values):
    alphas = [i / (len(values) - 1) for i in range(len(values))]
    return [PathPoint(a, task, metric, v) for a, v in zip(alphas, values)]


def test_barriers_measure_the_worst_excursion_beyond_the_chord():
    bump = curve("valid", "loss", [2.0, 2.3, 2.1])  # chord 2.0 / 2.05 / 2.1: 0.25 above it at 0.5
    dip = curve("facts", "score", [0.6, 0.7, 0.5, 0.8, 0.8])  # chord 0.6 .. 0.8: 0.2 below it at 0.5
    convex = curve("easy", "loss", [2.0, 1.5, 1.0])  # on the chord everywhere
    found = {b.task: b for b in barriers(bump + dip + convex)}
    assert (found["valid"].height, found["valid"].alpha) == (pytest.approx(0.25), 0.5)
    assert found["valid"].midpoint_gain == pytest.approx(-0.25)
    assert (found["facts"].height, found["facts"].alpha) == (pytest.approx(0.2), 0.5)
    assert found["facts"].midpoint_gain == pytest.approx(-0.2)
    assert found["easy"].height == 0.0 and found["easy"].midpoint_gain == pytest.approx(0.0)


def test_a_path_better_than_its_chord_has_no_barrier_and_a_positive_midpoint_gain():
    (found,) = barriers(curve("valid", "loss", [1.36, 1.34, 1.33, 1.33, 1.33]))
    assert found.height == 0.0 and found.midpoint_gain == pytest.approx(1.345 - 1.33)
