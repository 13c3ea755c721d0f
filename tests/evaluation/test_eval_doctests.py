"""The runnable examples in the docstrings of loading, scoring, generation and the runner."""

import doctest

import pytest

from ckptlens.checkpoints import loading
from ckptlens.evaluation import generation, runner, scoring


@pytest.mark.parametrize("module", [loading, scoring, generation, runner], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 or module is loading
    assert result.failed == 0
