"""The tiny workspace that doctests and the docs' examples run in (built once per test session, no downloads).

A workspace is a folder holding what the examples name, as a user's working folder would:

- ``runs/demo``: a series of six checkpoints (steps 10..60) of a 2-layer Llama with hidden size 32 and a
  word-level tokenizer trained here; random weights, different per checkpoint (``tests/conftest.py``);
- ``tasks/capitals.jsonl`` and ``valid.txt``: the shipped examples (``examples/``);
- ``store``: the records of run ``demo`` (every checkpoint on ``capitals`` and ``valid``), of run
  ``demo-avg2`` (``runs/demo-avg2``, trailing averages of 2 over the last three steps) and the drift of ``demo``.

``populate(cwd)`` gives an empty folder these names: the series read-only by symlink, the store copied (examples
write into it). Doctests see them from their working folder and find ``series``, ``store``, ``tasks``,
``model`` and ``tokenizer`` in their namespace (``doctest_namespace`` in the root ``conftest.py``).
"""

from __future__ import annotations

import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
STEPS = (10, 20, 30, 40, 50, 60)
EXTRA_WORDS = (
    "What France Italy Norway Spain Japan Egypt Peru Kenya Greece Poland Chile Cuba Madrid Tokyo Cairo Lima "
    "Nairobi Athens Warsaw Santiago Havana The It by sea in One Two"
).split()


def build(root: Path) -> Path:
    """Write the workspace under ``root`` (see the module docstring); returns ``root``."""
    from ckptlens.averaging import average_series
    from ckptlens.checkpoints import discover_series
    from ckptlens.diagnostics import series_drift
    from ckptlens.evaluation.evaluate import evaluate
    from ckptlens.store import Store, drift_table
    from tests.conftest import WORDS, build_tiny_model, build_tokenizer

    tokenizer = build_tokenizer((*WORDS, *EXTRA_WORDS))
    for i, step in enumerate(STEPS):
        folder = root / "runs" / "demo" / f"step{step:06d}"
        build_tiny_model(len(tokenizer), seed=i).save_pretrained(folder)
        tokenizer.save_pretrained(folder)
    _copy_examples(root)
    store = Store(root / "store")
    tasks = ["tasks/capitals.jsonl", "valid.txt"]
    evaluate(root / "runs" / "demo", [str(root / t) for t in tasks], store, run="demo")
    series = discover_series(root / "runs" / "demo")
    average_series(series, 2, root / "runs" / "demo-avg2", steps=STEPS[-3:])
    evaluate(root / "runs" / "demo-avg2", [str(root / tasks[0])], store)
    store.write_drift("demo", drift_table(r.to_dict() for r in series_drift(root / "runs" / "demo")))
    return root


def populate(cwd: Path, workspace: Path) -> None:
    """Give the empty folder ``cwd`` the workspace's names: series linked (read-only), store and task files copied."""
    (cwd / "runs").mkdir()
    for series in (workspace / "runs").iterdir():
        (cwd / "runs" / series.name).symlink_to(series, target_is_directory=True)
    shutil.copytree(workspace / "store", cwd / "store")
    _copy_examples(cwd)


def _copy_examples(root: Path) -> None:
    (root / "tasks").mkdir(exist_ok=True)
    shutil.copy(EXAMPLES / "tasks" / "capitals.jsonl", root / "tasks")
    shutil.copy(EXAMPLES / "tasks" / "capitals.yaml", root / "tasks")
    shutil.copy(EXAMPLES / "valid.txt", root)
