"""Put a demo run's numbers into the README, from the ``summary.json`` the demo wrote.

    ckptlens demo --out demo-out
    python docs/demo_table.py demo-out/summary.json

copies the file to ``docs/demo-summary.json`` and rewrites the README's demo table (between
``<!-- demo-table: ... -->`` and ``<!-- /demo-table -->``) with its means over tasks, date, machine and
time; ``tests/test_readme.py`` then checks every cell of the README's table against that file.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = "docs/demo-summary.json"
COLUMNS = ("mean_score", "task_mtv", "example_mtv", "instability_score", "std")
HEADER = ("| method | window | mean score | task MTV | example MTV | instability score | std |\n"
          "|---|---|---|---|---|---|---|\n")
BLOCK = re.compile(r"<!-- demo-table: (.*?) -->\n(.*?)<!-- /demo-table -->", re.S)


def table(summary: dict) -> str:
    """The means over tasks of fixed windows (raw first), as the demo prints them, to 3 decimals."""
    rows = [m for m in summary["means"] if m["window"] is not None]
    rows.sort(key=lambda m: (m["method"] != "raw", m["method"], m["window"]))
    cells = (" | ".join([m["method"], str(m["window"]), *(f"{m[c]:.3f}" for c in COLUMNS)]) for m in rows)
    return HEADER + "".join(f"| {line} |\n" for line in cells)


def block(summary: dict) -> str:
    window = summary["final_window"]
    return (f"<!-- demo-table: {COPY} -->\nA run of {summary['created']} on {summary['machine']} "
            f"({summary['seconds']:.0f} s), read from `{COPY}` (that run's `demo-out/summary.json`); final window "
            f"steps {window['first_step']}-{window['last_step']} ({window['n_checkpoints']} checkpoints):\n\n"
            f"{table(summary)}<!-- /demo-table -->")


def main(summary_path: str, root: Path = ROOT) -> None:
    summary = json.loads(Path(summary_path).read_text())
    shutil.copyfile(summary_path, root / COPY)
    readme = root / "README.md"
    text, count = BLOCK.subn(lambda _: block(summary), readme.read_text())
    if count != 1:
        sys.exit(f"{readme}: expected one demo table between <!-- demo-table: ... --> and <!-- /demo-table -->")
    readme.write_text(text)


if __name__ == "__main__":
    main(*sys.argv[1:2])
