import numpy as np

from ckptlens.analysis.examples import example_classes, example_view
from tests.analysis.test_compare import matrix


def test_classes_over_the_window():
    correct = np.array([[1, 1, 1], [0, 0, 0], [0, 1, 1], [1, 0, 1]])
    assert example_classes(correct) == ["learned-and-kept", "never-learned", "unstable", "unstable"]


def test_view_sorts_by_flips_and_classifies_the_final_window():
    score = np.array([
        [0, 1, 1, 1, 1],  # learned early, kept: 1 flip
        [1, 0, 1, 0, 1],  # 4 flips
        [0, 0, 0, 0, 0],  # never
        [1, 1, 1, 0, 0],  # forgotten in the window: 1 flip
    ], dtype=float)
    view = example_view(matrix(score, steps=(10, 20, 30, 40, 50)), last=0.4)  # window: steps 30..50
    assert view.window_start == 30
    assert view.example_ids.tolist() == ["e1", "e0", "e3", "e2"]
    assert view.flips.tolist() == [4, 1, 1, 0]
    assert view.classes == ["unstable", "learned-and-kept", "unstable", "never-learned"]
    assert view.class_fractions() == {"learned-and-kept": 0.25, "never-learned": 0.25, "unstable": 0.5}
