"""Faults of the machine (a full disk, a read-only store, no CUDA, no network) and a bug in ckptlens itself."""

from __future__ import annotations

import errno
import importlib
import os

import huggingface_hub

EVAL = ["eval", "{series}", "--tasks", "{task}", "--store", "{store}", "--run", "bad", "--device", "cpu"]


def fail_with(code: int):
    def fail(*args, **kwargs):
        raise OSError(code, os.strerror(code))

    return fail


def full_disk_for_parquet(monkeypatch, tmp):
    import pyarrow.parquet as pq

    monkeypatch.setattr(pq, "write_table", fail_with(errno.ENOSPC))


def full_disk_for_weights(monkeypatch, tmp):
    monkeypatch.setattr(os, "pwrite", fail_with(errno.ENOSPC))


def full_disk_for_text(monkeypatch, tmp):
    from pathlib import Path

    monkeypatch.setattr(Path, "write_text", fail_with(errno.ENOSPC))


def read_only(monkeypatch, tmp):
    monkeypatch.setattr(os, "replace", fail_with(errno.EROFS))


def claims_refused(monkeypatch, tmp):
    """A store whose folders cannot take new files: creating the claim before a unit is refused."""
    real_open = os.open

    def refuse_claims(path, *args, **kwargs):
        if str(path).endswith(".claim"):
            raise OSError(errno.EACCES, os.strerror(errno.EACCES))
        return real_open(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", refuse_claims)


def no_cuda(monkeypatch, tmp):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


def a_bug(monkeypatch, tmp):
    from ckptlens.analysis import compare

    def broken(*args, **kwargs):
        return 1 / 0

    monkeypatch.setattr(compare, "compare_tasks", broken)  # `ckptlens compare` imports it when it runs


def transport_error() -> type[Exception]:
    """The exception huggingface_hub's HTTP client raises when the network is down."""
    for module, name in (("httpx2", "ConnectError"), ("httpx", "ConnectError"), ("requests", "ConnectionError")):
        try:
            return getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
    return OSError


def no_network(monkeypatch, tmp):
    from ckptlens.checkpoints import hub

    def unreachable(*args, **kwargs):
        raise transport_error()("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setenv("HF_HUB_CACHE", str(tmp / "hub"))
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(hub.constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub, "list_repo_refs", unreachable)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", unreachable)


def offline(monkeypatch, tmp):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


HUB_EVAL = ["eval", "hf://org/tiny", "--tasks", "{task}", "--store", "{store}", "--device", "cpu"]

CASES = [
    {"id": "eval-full-disk", "args": EVAL, "patch": full_disk_for_parquet, "exit_code": 2,
     "stderr_contains": ["cannot write {store}/records/bad/task/step000010.parquet", "No space left on device"]},
    {"id": "import-full-disk", "args": ["import", "lm-eval", "{tmp}/lm", "--store", "{store}"],
     "setup": lambda tmp, series: _lm_eval_output(tmp / "lm"), "patch": full_disk_for_parquet, "exit_code": 2,
     "stderr_contains": ["cannot write {store}/", "No space left on device"]},
    {"id": "average-full-disk", "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "patch": full_disk_for_weights, "exit_code": 2,
     "stderr_contains": ["cannot write {tmp}/avg/step000020", "No space left on device"]},
    {"id": "report-full-disk", "args": ["report", "--store", "{store}", "--out", "{tmp}/r", "--last", "1"],
     "patch": full_disk_for_text, "exit_code": 2, "stderr_contains": ["cannot write {tmp}/r/", "No space left"]},
    {"id": "eval-read-only-store", "args": EVAL, "patch": read_only, "exit_code": 2,
     "stderr_contains": ["cannot write {store}/", "Read-only file system"]},
    {"id": "eval-claims-refused", "args": EVAL, "patch": claims_refused, "exit_code": 2,
     "stderr_contains": ["cannot write {store}/records/bad/task/step000010.parquet.claim", "Permission denied"]},
    {"id": "average-read-only-out", "args": ["average", "{series}", "--window", "2", "--out", "{tmp}/avg"],
     "patch": read_only, "exit_code": 2, "stderr_contains": ["cannot write {tmp}/avg/", "Read-only file system"]},
    {"id": "records-out-read-only", "args": ["records", "--store", "{store}", "--out", "{tmp}/r.jsonl"],
     "patch": read_only, "exit_code": 2, "stderr_contains": ["cannot write {tmp}/r.jsonl", "Read-only"]},
    {"id": "eval-device-cuda-without-cuda", "args": [*EVAL[:-2], "--device", "cuda"], "patch": no_cuda,
     "exit_code": 2, "stderr_contains": ["--device cuda", "--device cpu"]},
    {"id": "eval-device-cuda-1-without-cuda", "args": [*EVAL[:-2], "--device", "cuda:1"], "patch": no_cuda,
     "exit_code": 2, "stderr_contains": ["--device cuda:1"]},
    {"id": "interpolate-device-cuda-without-cuda",
     "args": ["interpolate", "{series}/step000010", "{series}/step000020", "--tasks", "{task}", "--device", "cuda",
              "--out", "{tmp}/i"], "patch": no_cuda, "exit_code": 2, "stderr_contains": ["--device cuda"]},
    {"id": "hub-series-without-network-or-cache", "args": HUB_EVAL, "patch": no_network, "exit_code": 2,
     "stderr_contains": ["org/tiny", "HF_HUB_OFFLINE=1"]},
    {"id": "hub-series-offline-not-cached", "args": HUB_EVAL, "patch": offline, "exit_code": 2,
     "stderr_contains": ["org/tiny", "not in the local HF cache"]},
    {"id": "a-bug-is-exit-1-with-the-debug-hint",
     "args": ["compare", "10", "20", "--store", "{store}", "--run", "tiny", "--task", "colors"], "patch": a_bug,
     "exit_code": 1, "stderr_contains": ["ZeroDivisionError", "bug in ckptlens", "CKPTLENS_DEBUG=1"]},
]


def _lm_eval_output(out):
    from tests.importers.lm_eval_files import Checkpoint, ChoiceSample, write_new_format

    samples = [ChoiceSample(i, f"q{i}", ["a", "b"], i % 2, [-1.0, -2.0]) for i in range(3)]
    write_new_format(out, Checkpoint("step1000", {"toy": samples}))
