"""A series ``manifest.json`` with a field of the wrong type, negative or non-finite: one line naming the field."""

from __future__ import annotations

import json

from tests.robustness.helpers import copy_series, write

EVAL = ["eval", "{tmp}/series", "--tasks", "{task}", "--store", "{store}", "--run", "bad", "--device", "cpu"]


def manifest(content: dict):
    return lambda tmp, series: write(copy_series(tmp, series) / "manifest.json", json.dumps(content))


MANIFESTS = {  # case: (manifest, the field the line names)
    "tokens-negative": ({"checkpoints": [{"step": 10, "tokens_seen": -1}]}, "field checkpoints[0].tokens_seen"),
    "tokens-a-string": ({"checkpoints": [{"step": 10, "tokens_seen": "10k"}]}, "field checkpoints[0].tokens_seen"),
    "step-missing": ({"checkpoints": [{"tokens_seen": 100}]}, "field checkpoints[0].step is missing"),
    "val-loss-nan": ({"checkpoints": [{"step": 10, "val_loss": float("nan")}]}, "field checkpoints[0].val_loss"),
    "checkpoints-a-mapping": ({"checkpoints": {"step": 10}}, "field checkpoints"),
    "window-zero": ({"method": "average", "window": 0, "source": "x"}, "field window"),
    "n-params-negative": ({"n_params": -3}, "field n_params"),
}
CASES = [
    {"id": f"eval-manifest-{name}", "args": EVAL, "setup": manifest(content), "exit_code": 2,
     "stderr_contains": ["{tmp}/series/manifest.json: " + field]}
    for name, (content, field) in MANIFESTS.items()
]
