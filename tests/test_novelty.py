"""The novelty score, its file, and the generated out-of-distribution pictures."""
import hashlib

import numpy as np
import pytest

from artist_style.data import ood
from artist_style.errors import UserError
from artist_style.models.card import ModelCard
from artist_style.models.novelty import Novelty, signed_log


def test_ood_pictures_are_the_same_on_every_run_and_at_any_size():
    names, images = ood.images(40)
    again_names, again = ood.images(40)
    assert names == again_names and np.array_equal(images, again)
    assert images.shape == (len(names), 40, 40, 3) and images.dtype == np.uint8
    assert len(set(names)) == len(names) >= 40
    for colour in ("white", "black", "yellow"):
        assert f"flat-{colour}-224x224" in names
    white = images[names.index("flat-white-48x48")]
    assert (white == 255).all()
    assert (images[names.index("flat-yellow-224x224")] == (255, 255, 0)).all()
    assert (images[names.index("flat-black-224x224")] == 0).all()
    black_wide = images[names.index("flat-black-320x200")]  # pad: white borders above and below
    assert (black_wide[20] == 0).all() and (black_wide[0] == 255).all()
    other_names, other = ood.images(40, seed=1)  # another seed: other noise, the same flat colours
    assert other_names == names
    noise = names.index("noise-uniform-224x224")
    assert not np.array_equal(other[noise], images[noise])
    assert np.array_equal(other[names.index("flat-yellow-48x48")], images[names.index("flat-yellow-48x48")])
    big_names, big = ood.images(96, resize="stretch")
    assert big_names == names and big.shape[1:] == (96, 96, 3)
    assert np.std(big.reshape(len(names), -1), axis=1).min() == 0 < np.std(big.reshape(len(names), -1), axis=1).max()


def test_score_is_the_mean_distance_to_the_nearest_training_images_in_signed_log_features():
    train = np.expm1(np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 4.0], [9.0, 9.0]]))  # signed log: these points
    novelty = Novelty(signed_log(train), neighbours=2, threshold=2.0, quantile=0.99)
    got = novelty.score(np.expm1(np.array([[0.0, 0.0], [3.0, 4.0]])))
    assert got == pytest.approx([(0 + 3) / 2, (3 + 4) / 2])
    assert novelty.score(-np.expm1(np.array([[3.0, 0.0]])))[0] == pytest.approx((3 + 5) / 2)  # sign kept (not 1.5)
    assert novelty.unknown(got).tolist() == [False, True]
    with pytest.raises(UserError, match="features of width 3"):
        novelty.score(np.zeros((1, 3)))


def test_threshold_is_the_quantile_of_the_validation_scores():
    rng = np.random.default_rng(0)
    train, val = rng.normal(0, 1, (300, 16)), rng.normal(0, 1, (200, 16))
    novelty = Novelty.fit(train, val, 5, 0.9)
    scores = novelty.score(val)
    assert novelty.threshold == pytest.approx(np.quantile(scores, 0.9))
    assert novelty.unknown(scores).mean() == pytest.approx(0.1, abs=0.006)
    far = novelty.score(rng.normal(0, 1, (50, 16)) * 20)  # 20 times the spread: all unknown
    assert novelty.unknown(far).all()
    assert Novelty.fit(train[:3], val, 5, 0.9).neighbours == 3  # never more neighbours than images


def test_threshold_also_takes_the_training_images_scores_against_other_groups():
    points = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 0.0], [3.0, 4.0]])  # signed log; the first two: one group
    train = np.expm1(points)
    val = np.expm1(np.array([[1.0, 0.0]]))
    novelty = Novelty.fit(train, val, 1, 1.0, train_groups=np.array(["a", "a", "b", "c"]))
    # held out: each image's nearest image of another group (a's copies: 3, not 0); then the max
    assert novelty.threshold == pytest.approx(max(1.0, 3.0, 3.0, 4.0))
    assert Novelty.fit(train, val, 1, 1.0).threshold == pytest.approx(1.0)  # without groups: validation only
    pooled = Novelty.fit(train, val, 1, 0.5, train_groups=np.array(["a", "a", "b", "c"]))
    assert pooled.threshold == pytest.approx(np.quantile([1.0, 3.0, 3.0, 3.0, 4.0], 0.5))
    lonely = Novelty.fit(train[:2], val, 1, 1.0, train_groups=np.array(["a", "a"]))  # no other group: left out
    assert lonely.threshold == pytest.approx(1.0)


def test_novelty_file_round_trip_without_pickle_and_byte_for_byte(tmp_path):
    rng = np.random.default_rng(1)
    novelty = Novelty.fit(rng.normal(0, 1, (40, 8)), rng.normal(0, 1, (20, 8)), 5, 0.99)
    card = ModelCard(tmp_path / "m.keras")
    assert card.novelty() is None  # no file yet: no novelty
    card.save_novelty(novelty)
    assert card.novelty_path == f"{tmp_path}/m.novelty.npz" and card.novelty_path in card.files()
    with np.load(card.novelty_path, allow_pickle=False) as f:  # plain arrays only
        assert sorted(f.files) == ["neighbours", "quantile", "threshold", "train"]
        assert f["threshold"] == novelty.threshold and f["train"].shape == (40, 8)
    loaded = card.novelty()
    probe = rng.normal(0, 2, (10, 8))
    assert np.array_equal(loaded.score(probe), novelty.score(probe))
    assert (loaded.neighbours, loaded.quantile) == (5, 0.99)
    first = hashlib.sha256(open(card.novelty_path, "rb").read()).hexdigest()
    card.save_novelty(loaded)
    assert hashlib.sha256(open(card.novelty_path, "rb").read()).hexdigest() == first
    (tmp_path / "m.novelty.npz").write_bytes(b"not a zip")
    with pytest.raises(UserError, match="m.novelty.npz: not a novelty file"):
        card.novelty()
