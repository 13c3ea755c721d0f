"""Start-up: ``--help`` and a rejected argument load no model, table, plotting or HTTP stack."""

import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "pyarrow", "matplotlib", "numpy", "pandas", "ray", "httpx", "httpx2", "requests")
PROBE = """
import sys
sys.argv = ["ckptlens", *sys.argv[1:]]
from ckptlens.cli.app import main
try:
    main()
except SystemExit:
    pass
print("MODULES", " ".join(sorted({m.split(".")[0] for m in sys.modules})))
"""


def _imported(*args: str) -> set[str]:
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, check=True)
    line = next(line for line in done.stdout.splitlines() if line.startswith("MODULES "))
    return set(line.split()[1:])


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("eval", "--help"),
        ("eval", "series", "--batch-size", "nope"),
        ("eval", "series", "--watch", "--steps", "1:2:1"),
        ("stability", "--last", "x"),
    ],
)
def test_help_and_rejected_arguments_import_no_heavy_stack(args):
    assert _imported(*args).isdisjoint(HEAVY)


def test_help_does_not_import_the_file_schemas():
    """pydantic (the schemas of external files) is imported when a file is read; typer may load it for a
    subcommand's help, so ``--help`` of the tool itself is the check."""
    assert "pydantic" not in _imported("--help")


def test_forecast_does_not_load_the_model_stack(tmp_path):
    """``forecast`` prints one table: importing ``ckptlens.report`` must not build every report section, whose
    imports bring torch (4 s of the command's 7 on the 7 Pythia runs)."""
    assert _imported("forecast", "--store", str(tmp_path / "none"), "--at-step", "5").isdisjoint(
        {"torch", "transformers"})
