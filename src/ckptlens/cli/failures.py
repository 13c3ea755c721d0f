"""How a command ends when something goes wrong: one line on stderr, never a traceback.

- a user error (``CkptlensError``, raised where the problem is known) or a command line click cannot
  parse: ``error: ...`` naming the file or flag, exit code 2; so is a write the system refused (a full
  disk, a read-only file system) that reached here without a writer naming it;
- anything else is a bug in ckptlens: one line naming the exception, exit code 1, and
  ``CKPTLENS_DEBUG=1`` re-raises it so its traceback shows;
- a warning is one line too, printed once per command however often it is raised (watch mode re-runs the
  analyses after every checkpoint), and Ctrl-C says that finished work is kept (exit 130).
"""

from __future__ import annotations

import os
import sys
import warnings

import typer
from rich.markup import escape

from ckptlens.cli.console import console
from ckptlens.errors import CkptlensError
from ckptlens.files import refused_write

try:  # typer 0.2x vendors click; older typer uses click itself
    from typer._click.exceptions import NoArgsIsHelpError, UsageError
except ImportError:  # pragma: no cover
    from click.exceptions import NoArgsIsHelpError, UsageError

DEBUG_VARIABLE = "CKPTLENS_DEBUG"


def run_one_line(app: typer.Typer) -> None:
    """Run the command line ``app``; exit 2 for a user error, 1 for a bug, each as one line."""
    warnings.showwarning = _one_line_warning
    _SHOWN.clear()
    try:
        code = app(standalone_mode=False)
    except CkptlensError as err:
        _fail(str(err), 2)
    except NoArgsIsHelpError as err:
        print(err.ctx.get_help())
        sys.exit(2)
    except UsageError as err:
        command = err.ctx.command_path if err.ctx is not None else "ckptlens"
        _fail(f"{err.format_message()} (see `{command} --help`)", 2)
    except OSError as err:
        refused = refused_write(err)
        if refused is None:
            _bug(err)
        _fail(str(refused), 2)
    except KeyboardInterrupt:
        console.print("interrupted; finished work is kept and a rerun resumes")
        sys.exit(130)
    except Exception as err:
        _bug(err)
    if isinstance(code, int) and code:
        sys.exit(code)


def _bug(err: Exception) -> None:
    if os.environ.get(DEBUG_VARIABLE) == "1":
        raise err
    _fail(f"{type(err).__name__}: {_first_line(err)} -- this is a bug in ckptlens; "
          f"rerun with {DEBUG_VARIABLE}=1 to see the traceback, and report it", 1)


def _fail(message: str, code: int) -> None:
    console.print(f"[red]error:[/] {escape(' '.join(message.split()))}", highlight=False, soft_wrap=True)
    sys.exit(code)


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"


_SHOWN: set[str] = set()  # warnings already printed by this command


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    text = " ".join(str(message).split())
    if text in _SHOWN:
        return
    _SHOWN.add(text)
    console.print(f"[yellow]warning:[/] {escape(text)}", highlight=False, soft_wrap=True)
