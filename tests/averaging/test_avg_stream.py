"""The streamed safetensors writer: byte-compatible with safetensors, refuses tensors that break its header."""

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from ckptlens.averaging import average_checkpoints
from ckptlens.checkpoints.safetensors_stream import TensorSpec, write_streamed
from ckptlens.errors import CkptlensError

TENSORS = {
    "a.weight": torch.randn(3, 5),
    "b.half": torch.randn(7, dtype=torch.float16),
    "c.bf16": torch.randn(2, 2).to(torch.bfloat16),
    "d.ids": torch.arange(5, dtype=torch.int64),
    "e.scalar": torch.tensor(2.5),
    "f.empty": torch.zeros(0, 4),
}


def specs(tensors):
    return {name: TensorSpec(t.dtype, tuple(t.shape)) for name, t in tensors.items()}


def test_streamed_file_reads_back_exactly_with_metadata(tmp_path):
    path = tmp_path / "model.safetensors"
    write_streamed(path, specs(TENSORS), iter(TENSORS.items()))
    loaded = load_file(path)
    assert loaded.keys() == TENSORS.keys()
    for name, tensor in TENSORS.items():
        assert loaded[name].dtype == tensor.dtype and torch.equal(loaded[name], tensor)
    with safe_open(str(path), framework="pt") as handle:
        assert handle.metadata() == {"format": "pt"}
    assert (int.from_bytes(path.read_bytes()[:8], "little") + 8) % 8 == 0


def test_tensor_that_disagrees_with_the_header_is_refused(tmp_path):
    with pytest.raises(ValueError, match="does not match the header"):
        write_streamed(tmp_path / "x.safetensors", specs(TENSORS), iter([("a.weight", torch.zeros(5, 3))]))
    with pytest.raises(ValueError, match="fewer tensors"):
        write_streamed(tmp_path / "y.safetensors", specs(TENSORS), iter(list(TENSORS.items())[:2]))


def test_a_fill_writes_its_blocks_in_place_in_any_order(tmp_path):
    path = tmp_path / "model.safetensors"
    values = torch.arange(10, dtype=torch.float32)

    def backwards(sink):
        for start in (8, 4, 0):
            sink(start, values[start : start + 4])

    write_streamed(path, specs({"a": values, "b": TENSORS["d.ids"]}), iter([("a", backwards), ("b", TENSORS["d.ids"])]))
    loaded = load_file(path)
    assert torch.equal(loaded["a"], values) and torch.equal(loaded["b"], TENSORS["d.ids"])


def test_a_fill_that_falls_short_or_writes_the_wrong_dtype_is_refused(tmp_path):
    spec = {"a": TensorSpec(torch.float32, (10,))}
    with pytest.raises(ValueError, match="do not fill"):
        write_streamed(tmp_path / "x.safetensors", spec, iter([("a", lambda sink: sink(0, torch.zeros(4)))]))
    with pytest.raises(ValueError, match="torch.float64 values for a torch.float32 tensor"):
        write_streamed(tmp_path / "y.safetensors", spec, iter([("a", lambda sink: sink(0, torch.zeros(10).double()))]))
    with pytest.raises(ValueError, match="tensor b does not match the header"):
        write_streamed(tmp_path / "z.safetensors", spec, iter([("b", lambda sink: None)]))


def test_single_average_of_listed_checkpoints_is_the_float64_mean_within_one_ulp(make_checkpoint, tmp_path):
    generator = torch.Generator().manual_seed(0)
    states = [{"w": torch.randn(64, 64, generator=generator) * 10 ** (i - 2)} for i in range(4)]
    folders = [make_checkpoint(tmp_path / f"ckpt{i}", s) for i, s in enumerate(states)]
    out = average_checkpoints(folders, tmp_path / "avg")
    got = load_file(out / "model.safetensors")["w"]
    exact = torch.stack([s["w"].double() for s in states]).mean(0)
    ulp = torch.nextafter(exact.float().abs(), torch.tensor(float("inf"))) - exact.float().abs()
    assert bool(((got.double() - exact).abs() <= ulp.double()).all())


def test_single_average_names_the_checkpoint_holding_nan(make_checkpoint, tmp_path):
    good = make_checkpoint(tmp_path / "step100", {"w": torch.zeros(3)})
    bad = make_checkpoint(tmp_path / "step200", {"w": torch.tensor([0.0, float("nan"), 1.0])})
    with pytest.raises(CkptlensError, match="tensor w of step200 holds NaN or Inf"):
        average_checkpoints([good, bad], tmp_path / "avg")
    assert not (tmp_path / "avg").exists()


def test_single_average_reports_tensors_written_across_shards(make_checkpoint, tmp_path):
    first, second = "model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"
    shards = {"a": first, "b": second, "c": second}
    states = [{"a": torch.ones(3) * i, "b": torch.zeros(2), "c": torch.arange(4)} for i in range(2)]
    folders = [make_checkpoint(tmp_path / f"ckpt{i}", s, shards) for i, s in enumerate(states)]
    reports = []
    average_checkpoints(folders, tmp_path / "avg", progress=lambda done, total: reports.append((done, total)))
    assert reports[-1] == (3, 3) and {total for _, total in reports} == {3}
    assert [done for done, _ in reports] == sorted(done for done, _ in reports)
