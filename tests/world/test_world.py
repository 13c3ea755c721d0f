from ckptlens.world import build_world
from ckptlens.world.world import HELD_OUT_SUM_FRACTION, MAX_ADDEND, N_COUNTRIES


def test_same_seed_gives_the_same_world():
    assert build_world(3) == build_world(3)


def test_different_seeds_give_different_worlds():
    assert build_world(0).countries != build_world(1).countries


def test_entity_names_are_distinct_across_kinds():
    world = build_world(0)
    names = [c.name for c in world.countries] + list(world.capitals) + list(world.languages)
    assert len(world.countries) == N_COUNTRIES
    assert len(set(names)) == len(names)
    assert all(" " not in n for n in names)


def test_mentions_are_zipf_skewed():
    weights = build_world(0).weights
    assert list(weights) == sorted(weights, reverse=True)
    assert weights[0] / weights[99] > 300  # 100 ** 1.3 ≈ 398


def test_held_out_sums_are_a_disjoint_fifth_of_all_pairs():
    world = build_world(0)
    train, held = set(world.train_sums), set(world.held_out_sums)
    assert not train & held
    assert len(train | held) == MAX_ADDEND**2
    assert len(held) == int(MAX_ADDEND**2 * HELD_OUT_SUM_FRACTION)
