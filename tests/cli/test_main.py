"""The rule of ``main()``: a user error is one line and exit 2, a bug one line naming it and exit 1;
and the shared option parsers (``--last 20%`` everywhere it exists)."""

import json

import pytest

from ckptlens.analysis import compare
from tests.cli.conftest import write_mc_task


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


def broken(*args, **kwargs):
    raise KeyError("steps")


def test_a_bug_is_one_line_naming_it_with_exit_code_1(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(compare, "compare_tasks", broken)  # the command imports it when it runs
    monkeypatch.delenv("CKPTLENS_DEBUG", raising=False)
    code, _, err = cli("compare", 1, 2, "--store", tmp_path, "--run", "r", "--task", "t")
    assert code == 1
    assert one_line(err) == (
        "error: KeyError: 'steps' -- this is a bug in ckptlens; rerun with CKPTLENS_DEBUG=1 to see the traceback, "
        "and report it"
    )


def test_ckptlens_debug_shows_the_traceback_of_a_bug(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(compare, "compare_tasks", broken)  # the command imports it when it runs
    monkeypatch.setenv("CKPTLENS_DEBUG", "1")
    with pytest.raises(KeyError, match="steps"):
        cli("compare", 1, 2, "--store", tmp_path, "--run", "r", "--task", "t")


def test_a_usage_error_is_one_line_with_exit_code_2(cli):
    code, _, err = cli("stability", "--windws", "2")
    assert code == 2
    assert one_line(err).startswith("error: No such option: --windws") and "--help" in err


def test_help_still_works(cli):
    code, out, _ = cli("stability", "--help")
    assert code == 0 and "--last" in out


@pytest.fixture(scope="module")
def store(tmp_path_factory, tiny_series):
    from tests.robustness.test_cases import run_cli

    root = tmp_path_factory.mktemp("last")
    task = write_mc_task(root / "colors.jsonl", n=6)
    assert run_cli(["eval", str(tiny_series), "--tasks", str(task), "--store", str(root / "s"), "--device", "cpu"]) == 0
    return root / "s"


@pytest.mark.parametrize("command", [
    ["stability", "--bootstrap", "0", "--windows", "2", "--format", "json"],
    ["select", "--window", "2", "--splits", "4", "--format", "json"],
    ["linearity", "--format", "json"],
])
def test_last_takes_a_percentage_or_a_fraction_in_every_command(cli, store, command):
    """Both spellings give the same answer: a table, or (select on a random model, linearity without
    averages) the same one-line refusal that names the final 60%, never a complaint about the flag."""
    outcomes = [cli(*command, "--store", store, "--last", last) for last in ("60%", "0.6")]
    assert outcomes[0] == outcomes[1]
    code, out, err = outcomes[0]
    assert "--last" not in err
    if code == 0:
        assert json.loads(out) is not None
    else:
        assert code == 2 and command[0] in ("select", "linearity"), err


def test_report_takes_a_percentage(cli, store, tmp_path):
    code, _, err = cli("report", "--store", store, "--out", tmp_path / "r", "--last", "60%", "--windows", "2")
    assert code == 0, err
    assert json.loads((tmp_path / "r" / "stability.json").read_text())
