"""``ckptlens eval --executor ray`` flags: wrong combinations stop with one line."""

import pytest

from tests.cli.test_errors import assert_one_line_error


@pytest.mark.parametrize(
    "flags, fragment",
    [
        (["--address", "auto"], "need --executor ray"),
        (["--max-retries", "2"], "need --executor ray"),
        (["--executor", "ray", "--watch"], "--watch runs the local executor"),
        (["--executor", "ray", "--average-window", "2"], "cannot run on Ray"),
        (["--shard-size", "0"], "--shard-size must be at least 1"),
        (["--executor", "ray", "--max-retries", "-1"], "--max-retries must not be negative"),
    ],
)
def test_wrong_cluster_flags(cli, tiny_series, tmp_path, flags, fragment):
    result = cli("eval", tiny_series, "--tasks", "x.jsonl", "--store", tmp_path / "s", *flags)
    assert_one_line_error(result, fragment)
