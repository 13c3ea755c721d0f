"""The ``ckptlens`` command: argument parsing over the Python API, nothing more."""
