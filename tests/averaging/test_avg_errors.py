"""Every refusal is a one-line CkptlensError that names what is wrong and where."""

import json

import pytest
import torch

from ckptlens.averaging import average_checkpoints, average_series
from ckptlens.errors import CkptlensError


def one_line_error(call, match):
    with pytest.raises(CkptlensError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
    return str(info.value)


def test_shape_mismatch_names_tensor_and_both_checkpoints(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2, 3)}, {"w": torch.zeros(3, 2)}])
    message = one_line_error(lambda: average_series(series, 2, tmp_path / "avg"), "tensor w")
    assert "step200" in message and "step100" in message and "[3, 2]" in message


def test_dtype_mismatch_is_refused(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2)}, {"w": torch.zeros(2, dtype=torch.bfloat16)}])
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), r"tensor w is BF16\[2\] in step200 but F32")


def test_missing_tensor_is_refused(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2), "v": torch.zeros(1)}, {"w": torch.zeros(2)}])
    one_line_error(
        lambda: average_checkpoints(series, tmp_path / "avg"),
        "tensor v is in step100 but missing from step200",
    )


def test_missing_shard_is_refused(make_series, tmp_path):
    shards = {"w": "a.safetensors", "v": "b.safetensors"}
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2), "v": torch.zeros(1)}] * 2, shards)
    (series[1].path / "b.safetensors").unlink()
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), "shard b.safetensors .* is missing")


def test_truncated_file_is_refused(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(100)}] * 2)
    path = series[0].path / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-40])
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), "truncated or corrupt at tensor w")
    path.write_bytes(b"\x03")
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), "truncated or not a safetensors file")


def test_corrupt_header_is_refused(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2)}] * 2)
    path = series[1].path / "model.safetensors"
    raw = bytearray(path.read_bytes())
    raw[9] = ord("#")
    path.write_bytes(bytes(raw))
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), "corrupt safetensors header")


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_or_inf_names_tensor_and_checkpoint(make_series, tmp_path, bad):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2)}, {"w": torch.tensor([0.0, bad])}])
    one_line_error(lambda: average_series(series, 2, tmp_path / "avg"), "tensor w of step200 holds NaN or Inf")
    assert not (tmp_path / "avg" / "step200").exists() and not (tmp_path / "avg" / "manifest.json").exists()


def test_nan_entering_a_sliding_window_names_its_checkpoint(make_series, tmp_path):
    states = [{"w": torch.full((3,), float(i))} for i in range(4)]
    states[3]["w"][1] = float("nan")
    series = make_series(tmp_path / "s", states)
    one_line_error(lambda: average_series(series, 2, tmp_path / "avg"), "tensor w of step400 holds NaN or Inf")
    assert sorted(p.name for p in (tmp_path / "avg").iterdir() if not p.name.startswith(".")) == [
        "manifest.json",
        "step200",
        "step300",
    ]


def test_fewer_checkpoints_than_the_window(toy_series, tmp_path):
    one_line_error(lambda: average_series(toy_series, 7, tmp_path / "avg"), "window of 7 needs at least 7")


def test_bin_only_checkpoint_asks_for_safetensors(make_series, tmp_path):
    series = make_series(tmp_path / "s", [{"w": torch.zeros(2)}] * 2)
    (series[0].path / "model.safetensors").unlink()
    torch.save({"w": torch.zeros(2)}, series[0].path / "pytorch_model.bin")
    one_line_error(lambda: average_checkpoints(series, tmp_path / "avg"), "convert it to safetensors")


def test_unknown_step_and_dtype_and_bad_output_folder(toy_series, tmp_path):
    one_line_error(lambda: average_series(toy_series, 3, tmp_path / "avg", steps=[200]), "ends at step 200")
    one_line_error(lambda: average_series(toy_series, 3, tmp_path / "avg", dtype="int8"), "unknown output dtype")
    one_line_error(lambda: average_series(toy_series, 3, toy_series[0].path.parent), "holds the series itself")
    average_checkpoints(toy_series[:2], tmp_path / "one")
    one_line_error(lambda: average_checkpoints(toy_series[:2], tmp_path / "one"), "already exists")


def test_resuming_with_another_window_is_refused(toy_series, tmp_path):
    average_series(toy_series, 2, tmp_path / "avg", steps=[600])
    assert json.loads((tmp_path / "avg" / "manifest.json").read_text())["window"] == 2
    one_line_error(lambda: average_series(toy_series, 3, tmp_path / "avg"), "window 2, not averages with window 3")
