"""Scheduling: slide when cheaper, re-sum from scratch when far apart or after RESUM_EVERY slides."""

from collections import Counter

import pytest

from ckptlens.averaging.plan import RESUM_EVERY, plan_updates


def reads_per_checkpoint(updates) -> Counter:
    return Counter(i for update in updates for i in update.members)


def test_consecutive_outputs_slide_and_read_each_checkpoint_at_most_twice():
    updates = plan_updates(12, 4, range(3, 12))
    assert [u.fresh for u in updates] == [True] + [False] * 8
    assert updates[1].added == (4,) and updates[1].removed == (0,)
    assert max(reads_per_checkpoint(updates).values()) == 2


def test_resum_every_bounds_the_number_of_slides():
    updates = plan_updates(100, 5, range(4, 100), resum_every=RESUM_EVERY)
    fresh = [u.target for u in updates if u.fresh]
    assert fresh[:3] == [4, 4 + RESUM_EVERY + 1, 4 + 2 * (RESUM_EVERY + 1)]
    reads = reads_per_checkpoint(updates)
    assert sum(reads.values()) / 100 < 2 + 5 / RESUM_EVERY


def test_far_apart_outputs_are_summed_from_scratch():
    updates = plan_updates(20, 5, [4, 10, 12, 15])
    assert [(u.fresh, u.added) for u in updates] == [
        (True, (0, 1, 2, 3, 4)),
        (True, (6, 7, 8, 9, 10)),
        (False, (11, 12)),  # two in, two out: 4 reads instead of 5
        (True, (11, 12, 13, 14, 15)),  # three in, three out would cost 6
    ]
    assert updates[2].removed == (6, 7)


def test_target_without_full_window_is_refused():
    with pytest.raises(ValueError, match="no full window"):
        plan_updates(5, 3, [1])
