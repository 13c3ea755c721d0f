"""Loaders shipped to Ray workers by the tests; they import this module by name, so it is not a test file."""

import os
import signal

from ckptlens.checkpoints.loading import load_model


class KillFirstLoad:
    """A loader that SIGKILLs its Ray worker the first time any worker runs it: mid-unit, with the claim held."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __call__(self, checkpoint):
        try:
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL))
        except FileExistsError:
            return load_model(checkpoint.path, device="cpu")
        os.kill(os.getpid(), signal.SIGKILL)
