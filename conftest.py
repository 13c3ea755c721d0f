"""Doctest collection (``--doctest-modules`` over src/ckptlens): modules that exist to bind an optional
extra are left out on a machine without it, as a user without ``ckptlens[train]`` or ``[ray]`` would be.
Every other module must import, and its examples run, with the core dependencies alone.

Doctests run in an empty temporary folder; those that use the tiny workspace get it there and in their namespace
(below, and ``tests/docs_workspace.py``), so no example needs ``+SKIP``."""

from importlib.util import find_spec
from pathlib import Path

import pytest
from _pytest.doctest import DoctestItem

OPTIONAL = {  # module file -> the package it binds (an extra in pyproject.toml)
    "src/ckptlens/integrations/lightning.py": ("lightning", "pytorch_lightning"),
}

collect_ignore = [path for path, packages in OPTIONAL.items() if not any(find_spec(p) for p in packages)]


# Doctests: each runs in an empty temporary folder. One that names a workspace object (``series``, ``store``,
# ``runs/demo``, ``tasks/``, ``valid.txt``, ``model``, ``tokenizer``, ...) finds the tiny workspace there and in its
# namespace (``tests/docs_workspace.py``), built once per session, on first use, so the others stay fast.
WORKSPACE_WORDS = ("runs/", "store", "series", "tasks", "valid.txt", "model", "tokenizer")


@pytest.fixture(scope="session")
def docs_workspace(tmp_path_factory) -> Path:
    """The tiny series, task files and store of ``tests/docs_workspace.py``; read-only (``populate`` copies)."""
    from tests.docs_workspace import build

    return build(tmp_path_factory.mktemp("docs_workspace"))


@pytest.fixture(autouse=True)
def _doctest_workspace(request):
    if not isinstance(request.node, DoctestItem):  # other tests: nothing, not even a temporary folder
        yield
        return
    tmp_path = request.getfixturevalue("tmp_path")
    request.getfixturevalue("monkeypatch").chdir(tmp_path)
    source = "\n".join(example.source for example in request.node.dtest.examples)
    if not any(word in source for word in WORKSPACE_WORDS):
        yield
        return
    from tests.docs_workspace import populate

    populate(tmp_path, request.getfixturevalue("docs_workspace"))
    namespace = request.getfixturevalue("doctest_namespace")  # one dict for the session: put back after the test
    objects = _namespace(tmp_path, source)
    namespace.update(objects)
    yield
    for name in objects:
        namespace.pop(name, None)


def _namespace(cwd: Path, source: str) -> dict:
    """What a doctest may use without building it: the series, the store, the tasks, a loaded checkpoint."""
    from ckptlens.checkpoints import discover_series
    from ckptlens.store import Store
    from ckptlens.tasks.task_file import load_task

    namespace = {"series": discover_series(cwd / "runs" / "demo"), "store": Store(cwd / "store"),
                 "tasks": [load_task(cwd / "tasks" / "capitals.jsonl")]}
    if "model" in source or "tokenizer" in source:
        from ckptlens.checkpoints.loading import load_model

        namespace["model"], namespace["tokenizer"] = load_model(cwd / "runs" / "demo" / "step000060", device="cpu")
    return namespace
