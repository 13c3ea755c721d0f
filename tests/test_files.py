"""Atomic writes: a block that fails leaves the old file and no temporary one; a figure is saved the same way."""

import matplotlib.pyplot as plt
import pytest

from ckptlens.files import atomic_path, write_text_atomic
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

