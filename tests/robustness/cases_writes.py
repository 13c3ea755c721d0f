"""Every command that writes, on a read-only disk and on a full one: ``cannot write PATH``, exit 2, no damage.

A test runs as root, so ``chmod`` cannot make a folder read-only; the disk is simulated instead, at the
system calls every writer goes through. ``read_only_disk`` refuses each call that would change the disk
(creating, opening for writing, renaming, removing) with EROFS; ``full_disk`` lets files be created but
refuses to put bytes or a finished file in place (ENOSPC), as a disk that fills up does.
"""

from __future__ import annotations

import builtins
import errno
import io
import os
import time

import pyarrow.parquet as pq

from tests.robustness.cases_llm_jp_eval import write_result

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC


def refuse(code: int):
    def refused(*args, **kwargs):
        raise OSError(code, os.strerror(code), str(args[0]) if args else None)

    return refused


def read_only_disk(monkeypatch, tmp):
    real_os_open, real_open = os.open, builtins.open

    def os_open(path, flags, *args, **kwargs):
        if flags & WRITE_FLAGS:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_os_open(path, flags, *args, **kwargs)

    def open_(file, mode="r", *args, **kwargs):
        if isinstance(file, str | os.PathLike) and any(c in mode for c in "wax+"):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(file))
        return real_open(file, mode, *args, **kwargs)

    monkeypatch.setattr(os, "open", os_open)
    monkeypatch.setattr(builtins, "open", open_)
    monkeypatch.setattr(io, "open", open_)
    for name in ("mkdir", "makedirs", "replace", "rename", "unlink", "remove", "rmdir", "pwrite"):
        monkeypatch.setattr(os, name, refuse(errno.EROFS))


def full_disk(monkeypatch, tmp):
    """No byte fits: Parquet, safetensors and text writes, and the final rename of any file, fail with ENOSPC."""
    from pathlib import Path

    for owner, name in ((pq, "write_table"), (os, "pwrite"), (Path, "write_text"), (os, "replace")):
        monkeypatch.setattr(owner, name, refuse(errno.ENOSPC))


def leftover_temporary(tmp, series):
    """A temporary file a killed writer left in the store, old enough for ``store check --repair`` to remove."""
    path = tmp / "store" / "records" / "tiny" / "colors" / ".tmp-step000010.parquet.otherhost.1.abcd"
    path.write_bytes(b"half")
    old = time.time() - 7 * 24 * 3600
    os.utime(path, (old, old))


def lm_eval_output(tmp, series):
    from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format

    samples = [ChoiceSample(i, f"q{i}", ["a", "b"], i % 2, [-1.0, -2.0]) for i in range(3)]
    write_new_format(tmp / "lm", Checkpoint("step1000", {"toy": samples}))


STORE = ["--store", "{store}"]
COMMANDS = {  # command: (arguments, set-up, the path the error names)
    "eval": (["eval", "{series}", "--tasks", "{task}", *STORE, "--run", "bad", "--device", "cpu"], None,
             "cannot write {store}/"),
    "average-window": (["average", "{series}", "--window", "2", "--out", "{tmp}/avg"], None, "cannot write {tmp}/avg"),
    "average-listed": (["average", "{series}/step000010", "{series}/step000020", "--out", "{tmp}/avg"], None,
                       "cannot write {tmp}/avg"),
    "drift": (["drift", "{series}", *STORE, "--run", "tiny"], None, "cannot write {store}/drift"),
    "interpolate": (["interpolate", "{series}/step000010", "{series}/step000020", "--tasks", "{task}", "--points",
                     "2", "--device", "cpu", "--out", "{tmp}/interp"], None, "cannot write {tmp}/interp"),
    "records": (["records", *STORE, "--out", "{tmp}/r.jsonl"], None, "cannot write {tmp}/r.jsonl"),
    "report": (["report", *STORE, "--out", "{tmp}/report", "--last", "1"], None, "cannot write {tmp}/report"),
    "capabilities": (["capabilities", *STORE, "--out", "{tmp}/caps", "--last", "1"], None, "cannot write {tmp}/caps"),
    "import-lm-eval": (["import", "lm-eval", "{tmp}/lm", *STORE], lm_eval_output, "cannot write {store}/"),
    "import-llm-jp-eval": (["import", "llm-jp-eval", "{tmp}/r", *STORE], lambda tmp, series: write_result(tmp),
                           "cannot write {store}/"),
}
CASES = [
    {"id": f"{name}-on-a-{disk}-disk", "args": args, "setup": setup, "patch": patch, "exit_code": 2,
     "stderr_contains": [target, why]}
    for name, (args, setup, target) in COMMANDS.items()
    for disk, patch, why in (("read-only", read_only_disk, "Read-only file system"),
                             ("full", full_disk, "No space left on device"))
]
CASES += [
    {"id": "store-check-repair-on-a-read-only-disk", "args": ["store", "check", *STORE, "--repair"],
     "setup": leftover_temporary, "patch": read_only_disk, "exit_code": 2,
     "stderr_contains": ["cannot write {store}/records/tiny/colors/.tmp-step000010.parquet", "Read-only file system"]},
    {"id": "pretrain-on-a-read-only-disk", "args": ["pretrain", "--out", "{tmp}/series-new", "--tiny"],
     "patch": read_only_disk, "exit_code": 2, "stderr_contains": ["cannot write {tmp}/series-new", "Read-only"]},
    {"id": "demo-on-a-read-only-disk", "args": ["demo", "--out", "{tmp}/demo", "--tiny"],
     "patch": read_only_disk, "exit_code": 2, "stderr_contains": ["cannot write {tmp}/demo", "Read-only"]},
]
