"""The README's commands are the CLI's: every subcommand and flag it and the docs show exists, CI runs its test command,
and its demo table is read from a demo run's summary.json or is a dated example."""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BLOCKS = re.findall(r"```bash\n(.*?)```", README, re.S)
DOCS = [page.read_text() for page in sorted((ROOT / "docs").rglob("*.md"))]
DOCS_BLOCKS = [block for page in DOCS for block in re.findall(r"```bash\n(.*?)```", page, re.S)]
LINES = [line.split(" #")[0].strip() for block in BLOCKS + DOCS_BLOCKS for line in block.splitlines()]  # no comments
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


def demo_table():
    spec = importlib.util.spec_from_file_location("demo_table", ROOT / "docs" / "demo_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_demo_table(readme: str, root: Path) -> None:
    """The README's demo table is either read from the summary file it names, cell by cell, or a dated example."""
    source, body = demo_table().BLOCK.search(readme).groups()
    if source == "example run":
        assert re.search(r"\b20\d\d-\d\d-\d\d\b", body) and "CPU" in body and "summary.json" in body
    else:
        summary = json.loads((root / source).read_text())
        assert demo_table().table(summary) in body
        assert summary["created"] in body and summary["machine"] in body


def test_the_demo_table_is_read_from_a_summary_file_or_is_a_dated_example():
    check_demo_table(README, ROOT)


def test_demo_table_writes_a_runs_summary_into_the_readme(tmp_path):
    means = [
        {"run": "demo", "method": "raw", "window": 1, "n_tasks": 3, "mean_score": 0.8744, "task_mtv": 0.0304,
         "example_mtv": 0.0851, "instability_score": 0.1, "std": 0.02},
        {"run": "demo", "method": "average", "window": 4, "n_tasks": 3, "mean_score": 0.889, "task_mtv": 0.012,
         "example_mtv": 0.0234, "instability_score": 0.044, "std": 0.022},
        {"run": "demo", "method": "adaptive-average", "window": None, "n_tasks": 3, "mean_score": 0.9,
         "task_mtv": 0.01, "example_mtv": 0.02, "instability_score": 0.03, "std": 0.02},
    ]
    summary = {"created": "2026-12-07 18:00 UTC", "machine": "x86_64, 2 CPUs, Linux, Python 3.11.7", "seconds": 181.4,
               "final_window": {"first_step": 390, "last_step": 480, "n_checkpoints": 10}, "tasks": {},
               "means": means}
    (tmp_path / "docs").mkdir()
    (tmp_path / "summary.json").write_text(json.dumps(summary))
    (tmp_path / "README.md").write_text("intro\n<!-- demo-table: example run -->\nold\n<!-- /demo-table -->\nrest\n")
    demo_table().main(str(tmp_path / "summary.json"), tmp_path)
    readme = (tmp_path / "README.md").read_text()
    assert "| raw | 1 | 0.874 | 0.030 | 0.085 | 0.100 | 0.020 |\n| average | 4 | 0.889 | 0.012 | 0.023 |" in readme
    assert "adaptive" not in readme and "old" not in readme and readme.endswith("rest\n")
    assert json.loads((tmp_path / "docs" / "demo-summary.json").read_text()) == summary
    check_demo_table(readme, tmp_path)
