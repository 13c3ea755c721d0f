"""Each package says in three lines what it owns and what it may import, and that agrees with the
import-linter layers in pyproject.toml (the contract CI checks)."""

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def layers() -> list[set[str]]:
    """The import-linter layers, top first, as sets of short package names."""
    block = re.search(r"^layers = \[(.*?)^\]", (ROOT / "pyproject.toml").read_text(), re.S | re.M).group(1)
    return [{name.strip().removeprefix("ckptlens.") for name in layer.split("|")}
            for layer in re.findall(r'^\s*"([^"]+)"', block, re.M)]  # fmt: skip


def test_every_package_docstring_names_what_it_may_import_and_matches_the_layers():
    order = layers()
    rank = {name: i for i, layer in enumerate(order) for name in layer}
    packages = sorted(p.parent.name for p in (ROOT / "src" / "ckptlens").glob("*/__init__.py"))
    assert set(packages) <= set(rank), "every package is in the import-linter contract"
    for package in packages:
        doc = ast.get_docstring(ast.parse((ROOT / "src" / "ckptlens" / package / "__init__.py").read_text()))
        lines = doc.splitlines()
        assert lines[2].startswith("May import"), package
        named = set(re.findall(r"\b[a-z]+\b", lines[2].split("(")[0])) & set(rank)
        assert all(rank[n] > rank[package] for n in named), (package, named)  # only packages below it
