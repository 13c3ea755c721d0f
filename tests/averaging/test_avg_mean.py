"""The averaging rule on known tensors: exact means, float32 accumulation, ulp bounds."""

import pytest
import torch

from ckptlens.averaging import mean as mean_module
from ckptlens.averaging.mean import finish, fresh_sum, is_averaged, mean, mean_to, quotient_to, slide
from ckptlens.checkpoints.weights import all_finite


def ulps_apart(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance in float32 ulps between two float32 tensors (same-sign values)."""
    return (a.view(torch.int32).long() - b.view(torch.int32).long()).abs()


def test_mean_of_known_tensors_is_exact():
    tensors = [torch.tensor([1.0, 2.0, -4.0]), torch.tensor([3.0, 4.0, 0.0]), torch.tensor([5.0, 9.0, 1.0])]
    assert torch.equal(mean(tensors), torch.tensor([3.0, 5.0, -1.0]))


def test_bf16_inputs_accumulate_in_float32_and_come_back_as_bf16():
    values = [256.0, 1.0, 1.0, 2.0]
    tensors = [torch.tensor([v], dtype=torch.bfloat16) for v in values]
    naive = sum(tensors[1:], tensors[0]) / 4  # bf16 accumulation loses the ones: 256 + 1 == 256
    assert naive.item() == 64.5
    result = mean(tensors)
    assert result.dtype == torch.bfloat16 and result.item() == 65.0


def test_fp16_sum_beyond_fp16_range_does_not_overflow():
    tensors = [torch.full((3,), 60000.0, dtype=torch.float16)] * 3
    result = mean(tensors)
    assert result.dtype == torch.float16 and torch.all(result == 60000.0)


def test_fresh_mean_is_within_one_ulp_of_float64_mean():
    generator = torch.Generator().manual_seed(0)
    scales = torch.logspace(-6, 6, 1000, dtype=torch.float64)
    tensors = [(torch.randn(1000, generator=generator, dtype=torch.float64) * scales).float() for _ in range(7)]
    exact = (torch.stack([t.double() for t in tensors]).sum(0) / 7).float()
    total, finite = fresh_sum(iter(tensors))
    averaged = finish(total, 7, torch.float32)
    assert finite
    assert ulps_apart(averaged.abs(), exact.abs()).max() <= 1
    assert torch.equal(averaged.sign(), exact.sign())


def test_slide_moves_the_window_sum():
    a, b, c = torch.tensor([1.0, 10.0]), torch.tensor([2.0, 20.0]), torch.tensor([4.0, 40.0])
    total, _ = fresh_sum([a, b])
    assert slide(total, [c], [a]) is True
    assert torch.equal(total, fresh_sum([b, c])[0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_sums_report_a_non_finite_input(bad):
    good, broken = torch.ones(10), torch.ones(10)
    broken[3] = bad
    assert fresh_sum([good, broken])[1] is False
    total, finite = fresh_sum([good, good])
    assert finite and slide(total, [broken], [good]) is False


def test_only_floating_point_tensors_are_averaged():
    assert is_averaged(torch.bfloat16) and is_averaged(torch.float32)
    assert not is_averaged(torch.int64) and not is_averaged(torch.bool)


def test_all_finite_is_not_fooled_by_an_overflowing_sum():
    assert all_finite(torch.full((10,), 3e38))  # the float32 sum is inf, the values are not
    assert not all_finite(torch.tensor([1.0, float("nan")]))
    assert not all_finite(torch.tensor([float("inf"), -float("inf")]))


def collect(size: int, dtype: torch.dtype):
    """A sink that records which elements it got, and the tensor it fills."""
    out, seen = torch.full((size,), float("nan"), dtype=dtype), torch.zeros(size, dtype=torch.int64)

    def sink(start, values):
        out[start : start + len(values)] = values
        seen[start : start + len(values)] += 1

    return sink, out, seen


def test_mean_to_hands_every_block_once_as_the_correctly_rounded_float64_mean(monkeypatch):
    monkeypatch.setattr(mean_module, "BLOCK", 7)  # many blocks over both threads, and a ragged last one
    generator = torch.Generator().manual_seed(3)
    tensors = [torch.randn(5, 9, generator=generator) * 10.0**k for k in range(-3, 3)]
    sink, got, seen = collect(45, torch.float32)
    assert mean_to(tensors, torch.float32, sink) is True
    exact = torch.stack([t.double() for t in tensors]).mean(0)
    assert torch.equal(seen, torch.ones(45, dtype=torch.int64))
    assert torch.equal(got.reshape(5, 9), exact.float())
    sink, half, _ = collect(45, torch.bfloat16)
    assert mean_to([t.to(torch.bfloat16) for t in tensors], torch.bfloat16, sink)
    assert torch.equal(half.reshape(5, 9), mean([t.to(torch.bfloat16) for t in tensors]))


@pytest.mark.parametrize("count", [2, 3, 4, 5, 8])
def test_mean_to_is_bit_identical_to_the_float64_mean_for_any_count(count):
    generator = torch.Generator().manual_seed(count)
    tensors = [torch.randn(4099, generator=generator) * 10.0 ** (i % 5 - 2) for i in range(count)]
    sink, got, _ = collect(4099, torch.float32)
    mean_to(tensors, torch.float32, sink)
    assert torch.equal(got, (torch.stack([t.double() for t in tensors]).sum(0) / count).float())


def test_quotient_to_equals_finish_block_by_block(monkeypatch):
    monkeypatch.setattr(mean_module, "BLOCK", 4)
    total = torch.randn(30, generator=torch.Generator().manual_seed(1)) * 1e3
    for dtype in (torch.float32, torch.bfloat16):
        sink, got, seen = collect(30, dtype)
        quotient_to(total, 3, dtype, sink)
        assert torch.equal(seen, torch.ones(30, dtype=torch.int64)) and torch.equal(got, finish(total, 3, dtype))


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_mean_to_reports_a_non_finite_input(bad, monkeypatch):
    monkeypatch.setattr(mean_module, "BLOCK", 3)  # the bad value in a late block of the second thread
    tensor = torch.zeros(20)
    tensor[16] = bad
    sink, _, _ = collect(20, torch.float32)
    assert mean_to([torch.ones(20), tensor], torch.float32, sink) is False
