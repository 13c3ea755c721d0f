"""Runs ``silent_cases.CASES``, each on its own copy of the series (they damage it).

Each: exit code, one stderr line with the fragment and no traceback, store unchanged.
"""

from __future__ import annotations

import shutil

import pytest

from tests.robustness.helpers_trust_a import listing, one_error_line
from tests.robustness.silent_cases import CASES

pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_case(case, cli, tiny_series, tmp_path):
    series = shutil.copytree(tiny_series, tmp_path / "series")
    case["setup"](tmp_path, series)
    before = listing(tmp_path / "store")
    code, _, err = cli(*(a.format(tmp=tmp_path, series=series) for a in case["args"]))
    assert code == case["exit_code"], err
    assert case["stderr_contains"] in one_error_line(err)
    assert {k: v for k, v in listing(tmp_path / "store").items() if k.startswith("records")} == {
        k: v for k, v in before.items() if k.startswith("records")
    }
