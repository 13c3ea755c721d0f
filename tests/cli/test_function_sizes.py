"""The CLI stays thin: no function in ``src/ckptlens/cli`` over 40 lines, ``eval_command`` at most 30,
``evaluation/runner.py`` at most 200 lines (issue 22's acceptance)."""

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "ckptlens"


def function_lengths(folder: Path) -> dict[str, int]:
    """``module.function`` -> lines from its ``def`` (decorators included) to its last line."""
    lengths = {}
    for path in sorted(folder.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lengths[f"{path.stem}.{node.name}"] = node.end_lineno - start + 1
    return lengths


def test_no_cli_function_is_over_40_lines_and_eval_command_is_at_most_30():
    lengths = function_lengths(SRC / "cli")
    assert lengths["evaluate.eval_command"] <= 30
    assert {name: n for name, n in lengths.items() if n > 40} == {}


def test_the_runner_is_at_most_200_lines():
    assert len((SRC / "evaluation" / "runner.py").read_text().splitlines()) <= 200
