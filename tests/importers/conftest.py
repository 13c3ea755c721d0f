"""The in-process ``cli`` runner of the CLI tests, shared with the importer's end-to-end test."""

from tests.cli.conftest import cli  # noqa: F401
