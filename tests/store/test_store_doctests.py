"""The runnable examples in the docstrings of the store, chance and prediction-table modules."""

import doctest

import pytest

from ckptlens.analysis import benchmarks, integration
from ckptlens.store import store
from ckptlens.tasks import chance


@pytest.mark.parametrize("module", [store, chance, benchmarks, integration], ids=lambda m: m.__name__)
def test_doctests(module):
    result = doctest.testmod(module)
    assert result.attempted > 0 and result.failed == 0
