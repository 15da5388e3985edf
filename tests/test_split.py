"""split: grouped, stratified in expectation, and stable when images are added."""
import numpy as np
import pandas as pd
import pytest

from artist_style.data.split import SPLITS, split
from artist_style.errors import UserError


def table(n, start=0, group_size=1, target_share=0.5, versions="v1 v2", seed=0):
    rng = np.random.default_rng(seed)
    ids = [f"{i:016x}" for i in range(start, start + n)]
    roles = np.where(rng.random(n) < target_share, "target", "other")
    return pd.DataFrame({"id": ids, "label": (roles == "target").astype(int), "role": roles,
                         "source": roles, "group": [f"g{(start + i) // group_size}" for i in range(n)],
                         "versions": versions})


def where(parts):
    return {i: name for name, part in parts.items() for i in part["id"]}


def test_adding_images_never_moves_an_old_one():
    old = table(600, group_size=3)
    new = pd.concat([old, table(400, start=600, group_size=3, seed=1)])
    before, after = where(split(old, "v1", 7, 0.2, 0.2)), where(split(new, "v1", 7, 0.2, 0.2))
    assert len(after) == 1000
    assert all(after[i] == s for i, s in before.items())


def test_v1_images_keep_their_split_in_v2():
    v1 = table(500, group_size=4, versions="v1 v2")
    v2_only = table(500, start=500, group_size=4, versions="v2", seed=3)
    both = pd.concat([v1, v2_only])
    p1, p2 = split(both, "v1", 1, 0.2, 0.2), split(both, "v2", 1, 0.2, 0.2)
    assert sum(len(p) for p in p1.values()) == 500 and sum(len(p) for p in p2.values()) == 1000
    for name in SPLITS:
        assert set(p1[name]["id"]) <= set(p2[name]["id"])


def test_no_group_straddles_two_splits():
    parts = split(table(900, group_size=7), "v1", 3, 0.2, 0.2)
    groups = [set(p["group"]) for p in parts.values()]
    assert not (groups[0] & groups[1]) and not (groups[0] & groups[2]) and not (groups[1] & groups[2])


def test_each_label_gets_the_fractions_in_expectation():
    # 3000 single-image groups, 20% target: each label's split shares are near 0.64/0.16/0.20
    parts = split(table(3000, target_share=0.2), "v1", 11, 0.2, 0.2)
    for role in ("target", "other"):
        counts = {name: (p["role"] == role).sum() for name, p in parts.items()}
        total = sum(counts.values())
        assert abs(counts["test"] / total - 0.20) < 0.035
        assert abs(counts["val"] / total - 0.16) < 0.035
        assert abs(counts["train"] / total - 0.64) < 0.04


def test_seed_changes_the_split_and_same_seed_repeats_it():
    t = table(300)
    a, b, c = (where(split(t, "v1", s, 0.2, 0.2)) for s in (1, 1, 2))
    assert a == b and a != c


def test_a_split_without_one_label_is_an_error():
    t = table(6, target_share=0.5)
    with pytest.raises(UserError, match="has no image with role"):
        split(t, "v1", 0, 0.2, 0.2)


def test_unknown_version_is_an_error():
    with pytest.raises(UserError, match="no images"):
        split(table(50), "v3", 0, 0.2, 0.2)
