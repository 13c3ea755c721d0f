"""The documentation is tested code (docs/contributing.md says how a page uses this).

- The site builds offline with ``mkdocs build --strict``: any warning (a broken link or anchor, a docstring the
  API reference cannot render) fails.
- Every ```python block of README.md and docs/**/*.md runs, each in a fresh namespace, in an empty temporary
  folder holding ``examples/`` (the shipped files); a block right after ``<!-- workspace -->`` also finds the
  tiny workspace there (``runs/demo``, ``store``, ``tasks/capitals.jsonl``, ``valid.txt``:
  ``tests/docs_workspace.py``).
- Every ```bash block right after ``<!-- runnable -->`` (or ``<!-- runnable workspace -->``) runs line by line in
  such a folder, in order, and each line must exit 0: ``ckptlens`` lines in-process (as ``cli`` runs them), other
  lines with bash. The README's Commands block is one of them.
- Every relative link of the README and every ``examples/`` path the docs name exists.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FENCE = re.compile(r"(?:<!-- (?P<marker>[a-z ]+) -->\n)?^```(?P<lang>[a-z]*)[^\n]*\n(?P<code>.*?)^```", re.S | re.M)


@dataclass(frozen=True)
class Block:
    page: Path
    number: int  # 1-based among the page's fences
    lang: str
    markers: frozenset[str]
    code: str

    @property
    def name(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.number}"


def blocks() -> list[Block]:
    return [Block(page, n, m["lang"], frozenset((m["marker"] or "").split()), m["code"])
            for page in PAGES for n, m in enumerate(FENCE.finditer(page.read_text()), 1)]


PYTHON = [b for b in blocks() if b.lang == "python"]
RUNNABLE = [b for b in blocks() if "runnable" in b.markers]


def folder_for(block: Block, cwd: Path, request) -> None:
    (cwd / "examples").symlink_to(ROOT / "examples", target_is_directory=True)
    if "workspace" in block.markers:
        from tests.docs_workspace import populate

        populate(cwd, request.getfixturevalue("docs_workspace"))


def commands(code: str) -> list[str]:
    """The block's command lines: continuations joined, comments and blank lines dropped."""
    joined = code.replace("\\\n", " ")
    lines = (re.sub(r"(^|\s)#.*$", "", line).strip() for line in joined.splitlines())
    return [line for line in lines if line]


def test_the_site_builds_offline_with_zero_warnings(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_COLOR": "1"}, timeout=300,
    )
    assert result.returncode == 0 and "WARNING" not in result.stderr, result.stderr[-3000:]
    assert (tmp_path / "site" / "reference" / "api-core" / "index.html").is_file()


@pytest.mark.parametrize("block", PYTHON, ids=lambda b: b.name)
def test_python_block_runs(block, tmp_path, monkeypatch, request):
    folder_for(block, tmp_path, request)
    monkeypatch.chdir(tmp_path)
    exec(compile(block.code, block.name, "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("block", RUNNABLE, ids=lambda b: b.name)
def test_runnable_shell_block_runs_in_order(block, tmp_path, monkeypatch, request, cli, one_thread):
    assert block.lang == "bash", f"{block.name}: only ```bash blocks can be marked runnable"
    folder_for(block, tmp_path, request)
    monkeypatch.chdir(tmp_path)
    for line in commands(block.code):
        if line.startswith("ckptlens "):
            code, out, err = cli(*shlex.split(line)[1:])
        else:
            done = subprocess.run(["bash", "-c", line], capture_output=True, text=True)
            code, err = done.returncode, done.stderr
        assert code == 0, f"{block.name}: `{line}` exited {code}: {err[-2000:]}"


def test_the_readme_commands_block_is_runnable():
    assert any(b.page.name == "README.md" and "ckptlens pretrain" in b.code for b in RUNNABLE)


def test_links_and_example_files_exist():
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?!https?:|#)[^)#]+)", readme):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    for page in PAGES:
        for path in set(re.findall(r"\bexamples/(?:[\w-]+/)*(?:[\w-]+\.\w+|[\w-]+/)", page.read_text())):
            assert (ROOT / path).exists(), f"{page.relative_to(ROOT)} names {path}, which is not shipped"


def test_the_command_splitter():
    assert commands("a --x 1   # note\n# only a comment\n\nb \\\n  --y 'a b'\n") == ["a --x 1", "b    --y 'a b'"]
