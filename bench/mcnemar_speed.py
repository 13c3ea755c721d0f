"""Time the exact McNemar p-value at 6,000 discordant examples against the exact big-integer sum it replaced.

    python bench/mcnemar_speed.py

Prints both p-values, their relative difference and the time each takes.
"""

from __future__ import annotations

import math
import time

from ckptlens.analysis.compare import mcnemar_exact


def big_integer_sum(b: int, c: int) -> float:
    n = b + c
    return min(1.0, 2 * sum(math.comb(n, k) for k in range(min(b, c) + 1)) / 2**n)


def timed(function, *args) -> tuple[float, float]:
    start = time.perf_counter()
    value = function(*args)
    return value, time.perf_counter() - start


def main() -> None:
    b, c = 2900, 3100
    fast, fast_s = timed(mcnemar_exact, b, c)
    exact, exact_s = timed(big_integer_sum, b, c)
    print(f"b={b} c={c}: log-space p={fast:.12g} in {fast_s * 1e3:.2f} ms; "
          f"big-integer p={exact:.12g} in {exact_s * 1e3:.0f} ms; relative difference {abs(fast - exact) / exact:.1e}")


if __name__ == "__main__":
    main()
