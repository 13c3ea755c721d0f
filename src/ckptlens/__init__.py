"""ckptlens: measure and remove the instability of downstream scores across pretraining checkpoints."""

from ckptlens.errors import CkptlensError

__version__ = "0.1.0"
__all__ = ["CkptlensError", "__version__"]
