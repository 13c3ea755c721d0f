"""The averaging rule on known tensors: exact means, float32 accumulation, ulp bounds."""

import pytest
import torch

from ckptlens.averaging import mean as mean_module
from ckptlens.averaging.mean import all_finite, blockwise_mean, finish, fresh_sum, is_averaged, mean, slide


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
    averaged = finish(fresh_sum(iter(tensors)), 7, torch.float32)
    assert ulps_apart(averaged.abs(), exact.abs()).max() <= 1
    assert torch.equal(averaged.sign(), exact.sign())


def test_slide_moves_the_window_sum():
    a, b, c = torch.tensor([1.0, 10.0]), torch.tensor([2.0, 20.0]), torch.tensor([4.0, 40.0])
    assert torch.equal(slide(fresh_sum([a, b]), [c], [a]), fresh_sum([b, c]))


def test_only_floating_point_tensors_are_averaged():
    assert is_averaged(torch.bfloat16) and is_averaged(torch.float32)
    assert not is_averaged(torch.int64) and not is_averaged(torch.bool)


def test_all_finite_is_not_fooled_by_an_overflowing_sum():
    assert all_finite(torch.full((10,), 3e38))  # the float32 sum is inf, the values are not
    assert not all_finite(torch.tensor([1.0, float("nan")]))
    assert not all_finite(torch.tensor([float("inf"), -float("inf")]))


def test_blockwise_mean_is_the_correctly_rounded_float64_mean_across_blocks(monkeypatch):
    monkeypatch.setattr(mean_module, "BLOCK", 7)  # many blocks, and a ragged last one
    generator = torch.Generator().manual_seed(3)
    tensors = [torch.randn(5, 9, generator=generator) * 10.0**k for k in range(-3, 3)]
    got, finite = mean_module.blockwise_mean(tensors, torch.float32)
    exact = torch.stack([t.double() for t in tensors]).mean(0)
    assert finite and got.shape == (5, 9) and torch.equal(got, exact.float())
    half, _ = mean_module.blockwise_mean([t.to(torch.bfloat16) for t in tensors], torch.bfloat16)
    assert half.dtype == torch.bfloat16


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_blockwise_mean_reports_a_non_finite_input(bad):
    tensor = torch.zeros(10)
    tensor[7] = bad
    assert blockwise_mean([torch.ones(10), tensor], torch.float32)[1] is False
