"""The runnable examples in the averaging docstrings stay true."""

import doctest

import pytest

from ckptlens.averaging import mean, plan, writer
from ckptlens.checkpoints import safetensors_stream, weights


@pytest.mark.parametrize("module", [mean, plan, safetensors_stream, weights, writer], ids=lambda m: m.__name__)
def test_docstring_examples(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
