"""Parameter drift of a series against a direct torch computation on whole state dicts."""

import json
import math
import shutil

import pytest
import torch
from safetensors.torch import load_file, save_file

from ckptlens.checkpoints import discover_series
from ckptlens.diagnostics import WHOLE_MODEL, distance, series_drift
from ckptlens.errors import CkptlensError
from ckptlens.report.drift import drift_figure


def direct(folder_a, folder_b, keep=lambda name: True):
    """L2, relative L2 and cosine of two checkpoints, from whole flattened float64 state dicts."""
    a, b = load_file(str(folder_a / "model.safetensors")), load_file(str(folder_b / "model.safetensors"))
    names = sorted(n for n in a if keep(n))
    va = torch.cat([a[n].double().reshape(-1) for n in names])
    vb = torch.cat([b[n].double().reshape(-1) for n in names])
    diff = torch.linalg.vector_norm(vb - va).item()
    return diff, diff / torch.linalg.vector_norm(va).item(), torch.nn.functional.cosine_similarity(va, vb, dim=0).item()


@pytest.fixture(scope="module")
def rows(tiny_series):
    return series_drift(tiny_series)


def test_whole_model_drift_equals_direct_computation(tiny_series, rows):
    checkpoints = discover_series(tiny_series)
    whole = [r for r in rows if r.module == WHOLE_MODEL]
    assert [(r.step_a, r.step_b) for r in whole] == [(10, 20), (20, 30), (30, 40)]
    for row, a, b in zip(whole, checkpoints, checkpoints[1:]):
        expected = direct(a.path, b.path)
        assert (row.l2, row.relative_l2, row.cosine) == pytest.approx(expected, rel=1e-6)


def test_module_drift_equals_direct_computation_on_its_tensors(tiny_series, rows):
    a, b = discover_series(tiny_series)[:2]
    row = next(r for r in rows if r.step_a == 10 and r.module == "model.layers.1.mlp")
    expected = direct(a.path, b.path, keep=lambda name: name.startswith("model.layers.1.mlp."))
    assert (row.l2, row.relative_l2, row.cosine) == pytest.approx(expected, rel=1e-6)


def test_module_rows_add_up_to_the_whole_model(rows):
    modules = {r.module for r in rows}
    assert {"model.embed_tokens", "model.norm", "model.layers.0.self_attn", "model.layers.1.mlp"} <= modules
    for step in (10, 20, 30):
        pair = [r for r in rows if r.step_a == step]
        whole = next(r for r in pair if r.module == WHOLE_MODEL)
        assert sum(r.l2**2 for r in pair if r.module != WHOLE_MODEL) == pytest.approx(whole.l2**2, rel=1e-12)


def test_identical_checkpoints_have_zero_drift_and_a_zero_tensor_gives_none(tmp_path):
    for step in (1, 2):
        folder = tmp_path / f"step{step}"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        tensors = {"w.weight": torch.ones(3, 2, dtype=torch.bfloat16), "b.bias": torch.zeros(4), "ids": torch.arange(3)}
        save_file(tensors, str(folder / "model.safetensors"))
    rows = {r.module: r for r in series_drift(tmp_path)}
    assert set(rows) == {WHOLE_MODEL, "w", "b"}  # the integer buffer is skipped
    assert (rows[WHOLE_MODEL].l2, rows[WHOLE_MODEL].cosine) == (0.0, pytest.approx(1.0))
    assert math.isnan(rows["b"].cosine) and rows["b"].to_dict()["cosine"] is None
    json.dumps([r.to_dict() for r in rows.values()], allow_nan=False)


def test_a_single_checkpoint_is_a_clear_error(tiny_series, tmp_path):
    shutil.copytree(tiny_series / "step000010", tmp_path / "step000010")
    with pytest.raises(CkptlensError, match="only one"):
        series_drift(tmp_path)


def test_checkpoints_with_different_shapes_are_a_clear_error(tmp_path):
    for step, shape in ((1, (3, 2)), (2, (2, 3))):
        folder = tmp_path / f"step{step}"
        folder.mkdir()
        (folder / "config.json").write_text("{}")
        save_file({"w.weight": torch.ones(shape)}, str(folder / "model.safetensors"))
    with pytest.raises(CkptlensError, match=r"tensor w.weight has shape \[3, 2\] in step1 but \[2, 3\] in step2"):
        series_drift(tmp_path)


def test_drift_figure_is_written(rows, tmp_path):
    path = drift_figure([r.to_dict() for r in rows], tmp_path / "drift.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_pair_sums_over_many_blocks_match_one_float64_pass(monkeypatch):
    monkeypatch.setattr(distance, "BLOCK", 7)
    a, b = torch.randn(10, 5, dtype=torch.float16), torch.randn(10, 5, dtype=torch.float16)
    sums = distance.pair_sums(a, b)
    wide_a, wide_b = a.double(), b.double()
    assert sums.diff_sq == pytest.approx(((wide_b - wide_a) ** 2).sum().item(), rel=1e-12)
    assert sums.dot == pytest.approx((wide_a * wide_b).sum().item(), rel=1e-12)
