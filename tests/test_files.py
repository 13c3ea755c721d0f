"""Atomic writes: a block that fails leaves the old file and no temporary one; a figure is saved the same way."""

import errno
import os

import matplotlib.pyplot as plt
import pytest

from ckptlens.errors import CkptlensError
from ckptlens.files import HOST, TMP_PREFIX, atomic_dir, atomic_path, temporary_name, write_text_atomic
from ckptlens.report.figures import save_figure


def test_a_failed_write_keeps_the_old_file_and_leaves_no_partial(tmp_path):
    target = write_text_atomic(tmp_path / "out" / "table.csv", "old\n")
    with pytest.raises(RuntimeError), atomic_path(target) as partial:
        partial.write_text("half of the new")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n"
    assert [p.name for p in target.parent.iterdir()] == ["table.csv"]


def test_a_figure_is_written_whole_under_its_own_name(tmp_path):
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    path = save_figure(fig, tmp_path / "curve.png")
    assert path.read_bytes().startswith(b"\x89PNG")
    assert [p.name for p in tmp_path.iterdir()] == ["curve.png"]



def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_temporary_file(tmp_path, monkeypatch):
    target = write_text_atomic(tmp_path / "table.csv", "old\n")

    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "replace", no_space)
    with pytest.raises(CkptlensError, match=r"cannot write .*table.csv: No space left on device; free space"):
        write_text_atomic(target, "new\n")
    assert target.read_text() == "old\n" and [p.name for p in tmp_path.iterdir()] == ["table.csv"]


def test_a_failed_folder_leaves_no_temporary_folder_and_a_finished_one_is_kept(tmp_path):
    with atomic_dir(tmp_path / "ckpt") as partial:
        (partial / "w.bin").write_bytes(b"first")
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "ckpt") as partial:
        (partial / "w.bin").write_bytes(b"half")
        raise RuntimeError("killed")
    with atomic_dir(tmp_path / "ckpt") as partial:  # another writer finished first: its folder stays
        (partial / "w.bin").write_bytes(b"second")
    assert (tmp_path / "ckpt" / "w.bin").read_bytes() == b"first"
    assert [p.name for p in tmp_path.iterdir()] == ["ckpt"]


def test_temporary_names_are_unique_per_writer(tmp_path):
    names = {temporary_name(tmp_path / "unit.parquet") for _ in range(100)}
    prefix = f"{TMP_PREFIX}unit.parquet.{HOST}.{os.getpid()}."
    assert len(names) == 100 and all(n.name.startswith(prefix) for n in names)
