"""Half precision on CPU: runs, records its dtype, stays close to float32."""

import pytest

from ckptlens.checkpoints.loading import load_model
from ckptlens.evaluation.runner import evaluate_task
from ckptlens.tasks.task import Example, Task

TASK = Task(
    name="colours",
    kind="multiple_choice",
    examples=tuple(
        Example(f"c{i}", f"Q : what is {w} ? A :", (" red", " blue green", " cat dog bird"), gold=i % 3)
        for i, w in enumerate(["one", "two", "three", "red"])
    ),
)


@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
def test_half_precision_on_cpu(tiny_series, one_thread, dtype):
    reference = evaluate_task(*load_model(tiny_series / "step000020", device="cpu"), TASK, batch_size=2)
    model, tok = load_model(tiny_series / "step000020", device="cpu", dtype=dtype)
    rows = evaluate_task(model, tok, TASK, batch_size=2)
    assert {r["dtype"] for r in rows} == {dtype}
    for row, ref in zip(rows, reference, strict=True):
        assert row["logliks"] == pytest.approx(ref["logliks"], abs=0.1)
