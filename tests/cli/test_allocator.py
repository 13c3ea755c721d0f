"""The command line keeps freed memory in the heap: a forward pass reuses the last one's pages."""

import subprocess
import sys

import pytest

PROBE = """
import resource, sys
import numpy as np
if sys.argv[1] == "tuned":
    from ckptlens.cli.allocator import keep_freed_memory
    assert keep_freed_memory()

def one_pass():  # forty 1 MiB activations, all freed at the end, as in a forward pass
    activations = [np.ones(1 << 17) for _ in range(40)]
    del activations

one_pass()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(5):
    one_pass()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def _page_faults(setting: str) -> int:
    done = subprocess.run([sys.executable, "-c", PROBE, setting], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1])


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallopt is Linux-only")
def test_later_passes_reuse_freed_pages_instead_of_faulting_in_new_ones():
    default, tuned = _page_faults("default"), _page_faults("tuned")
    assert default > 10_000  # glibc gives the 40 MiB back after every pass and faults it in again
    assert tuned < 100
