"""The README's commands are the CLI's: every subcommand and flag it shows exists, and CI runs its test command."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)
LINES = [line.split(" #")[0].strip() for block in BLOCKS for line in block.splitlines()]  # comments dropped
COMMANDS = [line for line in LINES if line.startswith("ckptlens ")]


def subcommand(line: str) -> list[str]:
    words = line.split()[1:]
    return words[:2] if words[0] in ("import", "store") else words[:1]


def test_readme_opens_with_the_demo_and_the_test_command():
    demo, tests = BLOCKS[0].strip(), BLOCKS[1].strip()
    assert demo.endswith("ckptlens demo --out demo-out") and tests.endswith("pytest")
    assert tests in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize("line", COMMANDS)
def test_every_documented_command_and_flag_exists(cli, line):
    code, out, err = cli(*subcommand(line), "--help")
    assert code == 0, err
    for flag in set(re.findall(r"(--[a-z][a-z-]*)", line)):
        assert flag in out, f"{flag} of `{line}` is not an option of `ckptlens {' '.join(subcommand(line))}`"
