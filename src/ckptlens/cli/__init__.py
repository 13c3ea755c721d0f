"""The ``ckptlens`` command: argument parsing over the Python API, one request per command, nothing more.
Owns flags, option parsing, progress bars and one-line failures; no computation lives here.
May import every package (it sits on top); heavy stacks only inside the command that needs them.
"""
