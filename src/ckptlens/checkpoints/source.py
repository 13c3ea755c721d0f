"""One entry point for a series wherever it lives: a local folder or a Hub repository (``hf://org/name``).

Commands take a series *spec* and never care where it lives: filters apply
before anything is downloaded, so ``--steps 1000:5000:1000`` on Pythia fetches
five revisions, not 154.

>>> [c.step for c in open_series("runs/demo", steps="20:40")]
[20, 30, 40]
>>> [c.step for c in open_series("runs/demo", last=0.2)]
[50, 60]

``open_series("hf://EleutherAI/pythia-70m", last=0.2)`` filters a Hub series' branches the same way.
"""

from __future__ import annotations

from pathlib import Path

from ckptlens.checkpoints.hub import download_checkpoints, is_hub_spec, list_hub_series, repo_id_of
from ckptlens.checkpoints.select import filter_series
from ckptlens.checkpoints.series import Checkpoint, discover_series


def open_series(
    spec: str | Path,
    steps: str | None = None,
    last: float | None = None,
    allow_pickle: bool = False,
    skip_incomplete: bool = False,
) -> list[Checkpoint]:
    """The series' checkpoints kept by ``steps``/``last``, sorted by step, each on local disk.

    ``steps`` is a ``--steps`` filter (``1000:5000:500`` or ``100,200``); ``last`` keeps the
    final fraction of training. Hub revisions not in the local cache are downloaded
    (``.bin`` pickles only with ``allow_pickle``; loading still uses ``weights_only``).
    ``skip_incomplete`` leaves out local checkpoint folders without ``config.json`` (see ``discover_series``).
    """
    if not is_hub_spec(spec):
        return filter_series(discover_series(spec, skip_incomplete), steps, last)
    kept = filter_series(list_hub_series(str(spec)), steps, last)
    download_checkpoints(str(spec), kept, allow_pickle)
    return kept


def series_id(spec: str | Path) -> str:
    """What identifies the series in a store: the resolved folder, or ``hf://org/name``."""
    return f"hf://{repo_id_of(spec)}" if is_hub_spec(spec) else str(Path(spec).resolve())


def series_name(spec: str | Path) -> str:
    """The default run name: the folder's name, or the repository's name."""
    return repo_id_of(spec).split("/")[1] if is_hub_spec(spec) else Path(spec).resolve().name
