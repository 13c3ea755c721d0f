"""Which checkpoints to read for each trailing-window output (pure scheduling).

For output index t the window is ``t-n+1 .. t``. Going from the window that
ends at t' to the one that ends at t costs ``2 * (t - t')`` checkpoint reads
(add the newcomers, subtract the leavers); summing from scratch costs n. The
plan takes the cheaper, and also re-sums after ``resum_every`` slide steps so
the float32 rounding drift stays bounded.

>>> [(u.target, u.fresh, u.added, u.removed) for u in plan_updates(5, 3, [2, 3, 4], resum_every=8)]
[(2, True, (0, 1, 2), ()), (3, False, (3,), (0,)), (4, False, (4,), (1,))]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

# Slide steps allowed between two fresh sums. Each step adds at most about half
# an ulp of the window sum, so an output is within (RESUM_EVERY + 2)/2 ulp of the
# sum, divided by n; with a window of 5 it costs 4/16 extra reads per checkpoint.
RESUM_EVERY = 16


@dataclass(frozen=True)
class Update:
    """How to reach the window sum for output index ``target``.

    ``fresh``: sum ``added`` from scratch. Otherwise add ``added`` to and
    subtract ``removed`` from the previous window's sum.
    """

    target: int
    fresh: bool
    added: tuple[int, ...]
    removed: tuple[int, ...]

    @property
    def members(self) -> tuple[int, ...]:
        """Every checkpoint index this update reads, oldest first."""
        return tuple(sorted(self.added + self.removed))


def plan_updates(count: int, window: int, targets: Iterable[int], resum_every: int = RESUM_EVERY) -> list[Update]:
    """The cheapest sequence of updates producing the window sums for ``targets`` (ascending indices)."""
    updates: list[Update] = []
    previous: int | None = None
    slid = 0
    for target in sorted(targets):
        if not window - 1 <= target < count:
            raise ValueError(f"target {target} has no full window of {window} in {count} checkpoints")
        distance = None if previous is None else target - previous
        if distance is None or 2 * distance >= window or slid + distance > resum_every:
            updates.append(Update(target, True, tuple(range(target - window + 1, target + 1)), ()))
            slid = 0
        else:
            added = tuple(range(previous + 1, target + 1))
            updates.append(Update(target, False, added, tuple(i - window for i in added)))
            slid += distance
        previous = target
    return updates
