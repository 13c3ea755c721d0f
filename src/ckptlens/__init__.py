"""ckptlens: measure and remove the instability of downstream scores across pretraining checkpoints."""

from ckptlens import world  # noqa: F401  registers the demo world's built-in tasks
from ckptlens.errors import CkptlensError

__version__ = "0.1.0"
__all__ = ["CkptlensError", "__version__"]
