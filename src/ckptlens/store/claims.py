"""Claims: which writer is evaluating a unit, so writers sharing a store never evaluate one twice.

A claim is a small JSON file beside the file it guards (``<file>.claim``:
host, pid, time, a random token), created with ``O_CREAT | O_EXCL``, which is
atomic on local disks and on NFS v3 and later: of two writers on any machines,
exactly one creates it. While a process holds claims, a daemon thread touches
them every ``HEARTBEAT_SECONDS``; the holder removes its claim once the guarded
file is renamed into place. A claim is *stale*, and can be taken over, when it
has not been touched for ``STALE_AFTER_SECONDS`` (its writer died, on any
machine) or at once when it names a process on this host that no longer runs.
Claim files end in ``.claim``, never ``.parquet``, so readers never see them.

Races cost work, never data: if two writers ever evaluated one unit (clocks
skewed by minutes, a takeover racing a fresh claim), each would write the same
records to a temporary name and rename it, so the store still holds one whole file.

>>> target = Path("store/records/demo/facts/step100.parquet")
>>> target.parent.mkdir(parents=True)
>>> claim = try_claim(target)
>>> try_claim(target) is None  # held: another writer skips the unit
True
>>> claim.release()
>>> try_claim(target) is not None
True
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

from ckptlens.files import HOST, process_runs, refused_writes

CLAIM_SUFFIX = ".claim"
HEARTBEAT_SECONDS = 20.0  # how often a holder touches its claims
STALE_AFTER_SECONDS = 120.0  # untouched this long: the holder is gone (keep well above the heartbeat and clock skew)


@dataclass(frozen=True)
class Claim:
    """A claim this process holds on ``target`` (the file it will write)."""

    target: Path
    token: str

    @property
    def path(self) -> Path:
        return claim_path(self.target)

    def release(self) -> None:
        """Stop the heartbeat and remove the claim file, unless another writer has taken it over."""
        _HEARTBEAT.forget(self.path)
        try:
            if json.loads(self.path.read_text()).get("token") == self.token:
                self.path.unlink()
        except (OSError, ValueError):
            pass


def claim_path(target: Path) -> Path:
    return target.with_name(target.name + CLAIM_SUFFIX)


def try_claim(target: Path, stale_after: float = STALE_AFTER_SECONDS) -> Claim | None:
    """Claim ``target`` for this process; None when a live writer holds it. A stale claim is taken over."""
    path = claim_path(target)
    with refused_writes(path):  # a read-only store or a full disk: one line naming the claim
        path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(3):  # a claim released or removed as stale between two looks: try again
            token = uuid.uuid4().hex
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                if not _remove_if_stale(path, stale_after):
                    return None
                continue
            with os.fdopen(fd, "w") as f:
                json.dump({"host": HOST, "pid": os.getpid(), "time": time.time(), "token": token}, f)
            _HEARTBEAT.keep(path, token)
            return Claim(target, token)
        return None


def is_stale(path: Path, stale_after: float = STALE_AFTER_SECONDS) -> bool:
    """Whether the claim at ``path`` was abandoned: untouched for ``stale_after`` s, or its process here is gone."""
    return _abandoned(*_read(path), stale_after)


def _abandoned(text: str, age: float, stale_after: float) -> bool:
    """A claim still being written (empty or partial JSON) is judged by its age alone."""
    if age > stale_after:
        return True
    try:
        holder = json.loads(text)
    except ValueError:
        return False
    if holder.get("host") != HOST:
        return False
    pid = int(holder.get("pid", 0))
    if pid == os.getpid():  # this process's own claim that it no longer keeps (left by an interrupted call)
        return not _HEARTBEAT.holds(holder.get("token"))
    return not process_runs(pid)


def _remove_if_stale(path: Path, stale_after: float) -> bool:
    """Remove the claim at ``path`` if it is stale; True when it is gone (removed here or released).

    The stale claim is renamed to a unique name first, so of several writers taking it
    over only one removes it; if what was renamed is not what was judged (a fresh
    claim made in between), it is put back.
    """
    try:
        judged, age = _read(path)
        if not _abandoned(judged, age, stale_after):
            return False
        moved = path.with_name(f"{path.name}.stale-{uuid.uuid4().hex}")
        os.rename(path, moved)
    except FileNotFoundError:
        return True
    taken, _ = _read(moved)
    if taken != judged:
        try:
            os.link(moved, path)
        except FileExistsError:
            pass
    moved.unlink()
    return taken == judged


def _read(path: Path) -> tuple[str, float]:
    """The claim's text and its age in seconds since it was last touched."""
    with path.open() as f:
        return f.read(), time.time() - os.fstat(f.fileno()).st_mtime


class _Heartbeat:
    """Touches this process's claims every ``HEARTBEAT_SECONDS`` from a daemon thread.

    The thread dies with the process, which is what lets others see a dead holder's
    claims go stale. A forked child starts its own thread and holds none of its parent's claims.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held: dict[Path, str] = {}
        self._pid: int | None = None

    def keep(self, path: Path, token: str) -> None:
        with self._lock:
            if self._pid != os.getpid():
                self._held, self._pid = {}, os.getpid()
                threading.Thread(target=self._run, name="ckptlens-claims", daemon=True).start()
            self._held[path] = token

    def forget(self, path: Path) -> None:
        with self._lock:
            self._held.pop(path, None)

    def holds(self, token: str | None) -> bool:
        with self._lock:
            return self._pid == os.getpid() and token in self._held.values()

    def _run(self) -> None:
        pid = os.getpid()
        while self._pid == pid:
            time.sleep(HEARTBEAT_SECONDS)
            with self._lock:
                held = list(self._held)
            for path in held:
                try:
                    os.utime(path)
                except OSError:
                    pass


_HEARTBEAT = _Heartbeat()
