"""Write files and folders so that a run killed halfway leaves the old one or none, never half of a new one.

Every write goes to a temporary name beside its target, unique to the writer
(``.tmp-<name>.<host>.<pid>.<random>``), and is renamed onto the target at the end: two
processes writing one target never write into each other's temporary file, and
readers skip names that start with ``TMP_PREFIX``. A write the system refuses
(a full disk, a read-only folder, a path that is a folder) is a one-line
``CkptlensError`` naming the path, raised here because here is where it is known
which file was being written.

>>> import tempfile, pathlib
>>> target = pathlib.Path(tempfile.mkdtemp()) / "table.csv"
>>> with atomic_path(target) as partial:
...     _ = partial.write_text("a,b\\n")
>>> target.read_text(), sorted(p.name for p in target.parent.iterdir())
('a,b\\n', ['table.csv'])
"""

from __future__ import annotations

import errno
import glob
import json
import os
import re
import secrets
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from ckptlens.errors import CkptlensError

TMP_PREFIX = ".tmp-"
HOST = socket.gethostname()
# How a system refuses a write; other errors (a missing input read inside a write block) keep their type.
WRITE_REFUSALS = frozenset(
    getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS", "EACCES", "EPERM", "EISDIR",
                                      "ENOTDIR", "EEXIST", "ENOTEMPTY", "ENAMETOOLONG", "EIO")
    if hasattr(errno, name)
)
# Refusals that no read causes: reported as a refused write even where the writer did not name its target.
ONLY_ON_WRITE = frozenset(getattr(errno, name) for name in ("ENOSPC", "EDQUOT", "EFBIG", "EROFS")
                          if hasattr(errno, name))


def temporary_name(path: Path) -> Path:
    """A fresh name beside ``path`` for this writer alone, recognisable by ``TMP_PREFIX``.

    >>> temporary_name(Path("out/table.csv")).name.startswith(".tmp-table.csv.")
    True
    """
    path = Path(path)
    return path.with_name(f"{TMP_PREFIX}{path.name}.{HOST}.{os.getpid()}.{secrets.token_hex(4)}")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """A temporary path beside ``path`` to write to, renamed onto ``path`` when the block ends without error."""
    path = Path(path)
    partial = temporary_name(path)
    try:
        with refused_writes(path):
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_dead_temporaries(path)
            yield partial
            os.replace(partial, path)
    finally:
        with suppress(OSError):  # nothing to remove, or the folder could not be made
            partial.unlink()


@contextmanager
def atomic_dir(path: Path) -> Iterator[Path]:
    """A temporary folder beside ``path`` to fill, renamed onto ``path`` when the block ends without error.

    If another writer finished ``path`` first (two commands writing one output), its folder is kept and
    this one is dropped: both computed the same thing, and a finished folder is never half replaced.
    """
    path = Path(path)
    partial = temporary_name(path)
    try:
        with refused_writes(path):
            remove_dead_temporaries(path)
            partial.mkdir(parents=True)
            yield partial
            _replace_unless_finished(partial, path)
    finally:
        shutil.rmtree(partial, ignore_errors=True)


def remove_dead_temporaries(path: Path) -> None:
    """Remove the temporary files for ``path`` whose writer, a process of this host, no longer runs.

    A killed writer leaves its temporary file behind; the next write of the same target clears it.
    """
    prefix = f"{TMP_PREFIX}{Path(path).name}."
    for tmp in Path(path).parent.glob(f"{glob.escape(prefix)}*"):
        host, _, pid = tmp.name[len(prefix):].rpartition(".")[0].rpartition(".")
        if host == HOST and pid.isdigit() and not process_runs(int(pid)):
            with suppress(OSError):
                tmp.unlink() if tmp.is_file() else shutil.rmtree(tmp)


def process_runs(pid: int) -> bool:
    """Whether process ``pid`` of this host runs (an exited child not yet reaped does not)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in {"Z", "X"}


def _replace_unless_finished(partial: Path, path: Path) -> None:
    """Rename the folder ``partial`` onto ``path``, unless another writer put a finished folder there first."""
    try:
        os.replace(partial, path)
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST) or not path.is_dir():
            raise


def write_text_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to a temporary file beside ``path``, then rename it: a killed run leaves no half file."""
    with atomic_path(path) as partial:
        partial.write_text(text, newline="")
    return Path(path)


@contextmanager
def refused_writes(path: Path) -> Iterator[None]:
    """Turn the system refusing a write under ``path`` (full disk, no permission, a folder in the way)
    into one line that names the path and what to do."""
    try:
        yield
    except OSError as error:
        if error.errno not in WRITE_REFUSALS:
            raise
        raise cannot_write(path, error) from error


def cannot_write(path: Path | str, error: OSError) -> CkptlensError:
    """The one line every refused write ends with: ``cannot write PATH: why; what to do``."""
    fix = "free space or choose a writable path, then rerun"
    return CkptlensError(f"cannot write {path}: {os.strerror(error.errno)}; {fix}")


def refused_write(error: OSError) -> CkptlensError | None:
    """The one-line error for an ``OSError`` that can only come from writing (a full disk, a read-only file
    system, a quota), wherever it was raised; None for other errors. The command line's last resort: a writer
    that did not name its target is still reported as a refused write, not as a bug.

    >>> print(refused_write(OSError(errno.EROFS, "Read-only file system", "store/runs/a.json")))
    cannot write store/runs/a.json: Read-only file system; free space or choose a writable path, then rerun
    """
    if error.errno not in ONLY_ON_WRITE:
        return None
    return cannot_write(error.filename if error.filename is not None else "a file", error)


def remove(path: Path) -> None:
    """Remove the file or folder ``path`` (gone already is fine); a refusal is ``cannot write PATH``."""
    path = Path(path)
    with refused_writes(path):
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)


def read_json(path: Path, fix: str = "repair or remove it") -> object:
    """The JSON in ``path``; a file that does not parse (or is not UTF-8) is one line naming it and the ``fix``.

    >>> import tempfile, pathlib
    >>> bad = pathlib.Path(tempfile.mkdtemp()) / "manifest.json"
    >>> _ = bad.write_text('{"step": ')
    >>> read_json(bad)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: ... is not valid JSON (line 1, column 10: Expecting value); repair or remove it
    """
    text = read_text(path, fix)
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        where = f"line {error.lineno}, column {error.colno}: {error.msg}"
        raise CkptlensError(f"{path} is not valid JSON ({where}); {fix}") from None


def read_text(path: Path, fix: str = "save it as UTF-8") -> str:
    """The text of ``path``, which must be UTF-8; other bytes are one line naming the file, the offset and the ``fix``.

    >>> import tempfile, pathlib
    >>> latin = pathlib.Path(tempfile.mkdtemp()) / "task.txt"
    >>> _ = latin.write_bytes("café".encode("latin-1"))
    >>> read_text(latin)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: .../task.txt is not UTF-8 text (byte 3 is 0xe9); save it as UTF-8
    """
    data = Path(path).read_bytes()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise CkptlensError(
            f"{path} is not UTF-8 text (byte {error.start} is {data[error.start]:#04x}); {fix}"
        ) from None


def validated(schema: type, data: object, path: Path | str, line: int | None = None, fix: str = "repair it"):
    """``data`` read from ``path`` as the pydantic model ``schema``; the first problem is one line naming the file
    (and ``line``, for one line of a JSON Lines file), the field, what is wrong and the ``fix``.

    pydantic is imported here, when a file is read, not when the command line is parsed.

    >>> from pydantic import BaseModel, ConfigDict, Field
    >>> class Row(BaseModel):
    ...     model_config = ConfigDict(strict=True)
    ...     score: float = Field(allow_inf_nan=False)
    >>> validated(Row, {"score": float("nan")}, "scores.jsonl", line=3)
    Traceback (most recent call last):
    ckptlens.errors.CkptlensError: scores.jsonl:3: field score should be a finite number (got nan); repair it
    """
    from pydantic import ValidationError

    try:
        return schema.model_validate(data)
    except ValidationError as error:
        raise CkptlensError(f"{path}{'' if line is None else f':{line}'}: {describe(error)}; {fix}") from None


def describe(error) -> str:
    """The first problem of a pydantic ``ValidationError`` in a few words: the field (``samples[3].output``),
    what is wrong and the value found."""
    first = error.errors(include_url=False)[0]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    if first["type"] == "missing":
        return f"field {field} is missing"
    message = re.sub(r"^(Input|List|String|Dictionary|Tuple|Set) should", "should", first["msg"]).removeprefix(
        "Value error, ")
    found = first.get("input")
    shown = {dict: "a mapping", list: "a list"}.get(type(found), repr(found))
    return f"field {field} {message} (got {shown[:60]})" if field else message
