"""The process's memory allocator, set for commands that run forward passes on the CPU.

glibc serves an allocation above its mmap threshold (128 KiB at start) with
fresh pages from the kernel and gives them back on free, so each activation
of each forward pass page-faults in new zeroed memory: hundreds of thousands
of faults per pass on a Pythia-160m-shaped model. Raising the threshold to
glibc's largest (32 MiB) and keeping up to 1 GiB of freed memory in the heap
lets every pass reuse the last one's pages: on that model, 60 examples, the
first pass takes 292k faults instead of 819k and the second 29k instead of
301k (``python bench/speed.py faults --model 86m --examples 60``). The price:
up to 1 GiB freed by a command stays with its process until it exits.
PyTorch's CUDA memory has its own caching allocator; this is about host memory.
The command line sets it once per process; the Python API leaves the
process's allocator as it is.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameters, from glibc's malloc.h
MMAP_THRESHOLD = 32 << 20  # glibc's largest: only allocations above it still get fresh pages
TRIM_THRESHOLD = 1 << 30  # freed memory the heap keeps for later allocations, at most


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (Linux); False where there is no glibc or it refuses, which changes nothing else."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
