"""``ckptlens eval --executor ray``: the cluster options, checked together.

Nothing here imports Ray or torch, so ``ckptlens --help`` stays fast.
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from ckptlens.errors import CkptlensError

if TYPE_CHECKING:
    from ckptlens.evaluation.ray_executor import RayOptions


class Executor(str, Enum):
    local = "local"
    ray = "ray"


def cluster_options(executor: Executor, address: str | None, max_retries: int | None, watch: bool) -> RayOptions | None:
    """The Ray options for ``--executor ray``; None for the local executor, which takes no cluster flags."""
    from ckptlens.evaluation.ray_executor import RayOptions

    if executor is Executor.local:
        if address is not None or max_retries is not None:
            raise CkptlensError("--address and --max-retries need --executor ray")
        return None
    if watch:
        raise CkptlensError("--watch runs the local executor; run `--executor ray` beside it on the same --store")
    return RayOptions(address, 3 if max_retries is None else max_retries)
