"""Claims and shards: one writer per unit, stale claims taken over, readers never see either."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from ckptlens.store import Shard, Store, records_table
from ckptlens.store.claims import HOST, claim_path, is_stale, try_claim

ROOT = Path(__file__).resolve().parents[2]


def rows(checkpoint, ids, task="t"):
    return records_table(
        [{"run": "r", "checkpoint": checkpoint, "task": task, "example_id": i, "score": 1.0} for i in ids]
    )


def write_claim(target: Path, host=HOST, pid=None, age=0.0, text=None) -> Path:
    """A claim file as another writer would leave it, last touched ``age`` seconds ago."""
    path = claim_path(target)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text if text is not None else json.dumps({"host": host, "pid": pid, "time": 0, "token": "x"}))
    os.utime(path, (time.time() - age, time.time() - age))
    return path


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def test_a_claim_is_exclusive_until_released(tmp_path):
    target = tmp_path / "unit.parquet"
    first = try_claim(target)
    assert first is not None and claim_path(target).is_file()
    assert try_claim(target) is None  # held by this live process
    first.release()
    assert not claim_path(target).exists()
    second = try_claim(target)
    assert second is not None and second.token != first.token
    second.release()


def test_which_claims_are_stale(tmp_path):
    live_here = write_claim(tmp_path / "a", pid=os.getppid())
    dead_here = write_claim(tmp_path / "b", pid=dead_pid())
    fresh_elsewhere = write_claim(tmp_path / "c", host="other-node", pid=1)
    old_elsewhere = write_claim(tmp_path / "d", host="other-node", pid=1, age=500)
    being_written = write_claim(tmp_path / "e", text="")
    abandoned_half = write_claim(tmp_path / "f", text='{"host": ', age=500)
    assert [is_stale(p) for p in (live_here, dead_here, fresh_elsewhere, old_elsewhere, being_written)] == [
        False, True, False, True, False
    ]
    assert is_stale(abandoned_half)
    assert try_claim(tmp_path / "a") is None and try_claim(tmp_path / "c") is None
    taken = [try_claim(tmp_path / name) for name in "bdf"]
    assert all(taken) and all(json.loads(c.path.read_text())["pid"] == os.getpid() for c in taken)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.claim", "b.claim", "c.claim", "d.claim", "e.claim",
                                                          "f.claim"]  # the stale ones were replaced, nothing left over


def test_release_leaves_a_claim_taken_over_by_another_writer(tmp_path):
    target = tmp_path / "unit.parquet"
    mine = try_claim(target)
    write_claim(target, host="other-node", pid=1)  # as if taken over after this process looked stale
    mine.release()
    assert json.loads(claim_path(target).read_text())["host"] == "other-node"


def test_a_holder_keeps_its_claim_fresh_until_killed(tmp_path):
    target = tmp_path / "unit.parquet"
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time; import ckptlens.store.claims as c; c.HEARTBEAT_SECONDS = 0.05; "
         f"c.try_claim(c.Path({str(target)!r})); print('held', flush=True); time.sleep(60)"],
        env={**os.environ, "PYTHONPATH": str(ROOT / "src")}, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        path = claim_path(target)
        os.utime(path, (time.time() - 1000, time.time() - 1000))
        time.sleep(0.5)
        assert time.time() - path.stat().st_mtime < 5 and not is_stale(path, stale_after=60)
        assert try_claim(target) is None
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert is_stale(claim_path(target))  # its process is gone: taken over at once
    assert try_claim(target) is not None


def test_shards_merge_in_order_and_stay_invisible_until_then(tmp_path):
    store = Store(tmp_path)
    store.write_unit("r", "s1", "t", rows("s1", ["a"]))
    claim = store.claim_unit("r", "s2", "t")
    store.write_unit("r", "s2", "t", rows("s2", ["c", "d"]), Shard(1, 2))
    assert claim is not None and not store.has_unit("r", "s2", "t") and store.has_unit("r", "s2", "t", Shard(1, 2))
    assert store.read().column("example_id").to_pylist() == ["a"]  # shards and claims are not records
    assert store.runs() == ["r"] and store.tasks("r") == ["t"]
    first_of_a_run = store.claim_unit("new", "s1", "t")
    store.write_unit("new", "s1", "t2", rows("s1", ["a"]), Shard(0, 2))
    assert store.runs() == ["r"] and store.tasks("new") == []  # a run whose first units are in flight has none yet
    first_of_a_run.release()

    store.write_unit("r", "s2", "t", rows("s2", ["a", "b"]), Shard(0, 2))
    path = store.merge_shards("r", "s2", "t", 2)
    claim.release()
    assert pq.read_table(path).column("example_id").to_pylist() == ["a", "b", "c", "d"]
    assert sorted(p.name for p in path.parent.iterdir()) == ["s1.parquet", "s2.parquet"]  # shards folder gone
    assert store.read().num_rows == 5


def test_writing_a_whole_unit_removes_shards_left_by_an_interrupted_run(tmp_path):
    store = Store(tmp_path)
    store.write_unit("r", "s1", "t", rows("s1", ["a"]), Shard(0, 3))
    store.write_unit("r", "s1", "t", rows("s1", ["a", "b", "c"]))
    assert [p.name for p in (tmp_path / "records" / "r" / "t").iterdir()] == ["s1.parquet"]


def test_a_failed_heartbeat_gives_the_claim_up_loudly(tmp_path):
    from ckptlens.store import claims

    target = tmp_path / "unit.parquet"
    kept, taken = claims.try_claim(target), claims.try_claim(tmp_path / "other.parquet")
    claim_path(taken.target).write_text(json.dumps({"host": "elsewhere", "pid": 1, "time": 0, "token": "theirs"}))
    claim_path(target).chmod(0o444)
    try:
        with pytest.warns(claims.ClaimLostWarning, match="other.parquet.claim.*took it over"):
            claims._HEARTBEAT.beat()
        assert taken.lost and not claims._HEARTBEAT.holds(taken.token)
        assert not kept.lost and claims._HEARTBEAT.holds(kept.token)  # a read-only file is still touched by its owner
        claim_path(target).unlink()
        with pytest.warns(claims.ClaimLostWarning, match="unit.parquet.claim"):
            claims._HEARTBEAT.beat()
        assert kept.lost
    finally:
        kept.release(), taken.release()
    assert json.loads(claim_path(taken.target).read_text())["token"] == "theirs"  # another's claim is left alone
