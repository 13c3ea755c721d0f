"""``python -m ckptlens``: the same as the ``ckptlens`` command."""

from ckptlens.cli.app import main

main()
