"""Doctest collection (``--doctest-modules`` over src/ckptlens): modules that exist to bind an optional
extra are left out on a machine without it, as a user without ``ckptlens[train]`` or ``[ray]`` would be.
Every other module must import, and its examples run, with the core dependencies alone."""

from importlib.util import find_spec

OPTIONAL = {  # module file -> the package it binds (an extra in pyproject.toml)
    "src/ckptlens/integrations/lightning.py": ("lightning", "pytorch_lightning"),
}

collect_ignore = [path for path, packages in OPTIONAL.items() if not any(find_spec(p) for p in packages)]
