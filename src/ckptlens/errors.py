"""The one exception type ckptlens raises for problems a user can fix.

The CLI prints its message on one line and exits with code 2, so a message must
say what is wrong and what to do about it, e.g.
``CkptlensError("no weights in runs/a/step100: expected model.safetensors or an index")``.
"""


class CkptlensError(Exception):
    """A user-facing error: bad input, a missing file, an impossible request."""
