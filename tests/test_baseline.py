"""The classical baseline: its features on images whose answer is known, C chosen on validation,
and a synthetic problem it must learn."""
import numpy as np
import pandas as pd
import pytest

from artist_style.data.processed import Processed
from artist_style.errors import UserError
from artist_style.models import classical, registry
from tests.conftest import drawing

SETTINGS = dict(colour_bins=4, orientations=8, edge_threshold=0.1, lbp_radii=(1,))


def named(image, **settings):
    """{feature name: value} of one uint8 image."""
    settings = {**SETTINGS, **settings}
    return dict(zip(classical.names(**settings), classical.features(image[None], **settings)[0]))


def stripes(size=32, width=4, vertical=True):
    """Black and white stripes `width` pixels wide, black first."""
    on = (np.arange(size) // width) % 2 == 1
    mask = np.broadcast_to(on[None, :] if vertical else on[:, None], (size, size))
    return np.repeat(np.where(mask, 255, 0).astype(np.uint8)[..., None], 3, axis=-1)


def test_pure_red_image():
    red = np.zeros((16, 16, 3), np.uint8)
    red[..., 0] = 255
    f = named(red)
    colour = {k: v for k, v in f.items() if k.startswith("rgb_")}
    assert colour["rgb_300"] == 1.0 and sum(colour.values()) == 1.0  # all in the red corner bin
    assert all(f[f"orientation_{a}"] == 0 for a in (0, 22, 45, 68, 90, 112, 135, 158))
    assert f["energy"] == 0 and f["edge_density"] == 0
    assert f["lbp1_8"] == 1.0  # flat: every neighbour >= the centre


def test_vertical_stripes():
    f = named(stripes())
    assert f["rgb_000"] == 0.5 and f["rgb_333"] == 0.5
    assert f["orientation_0"] == pytest.approx(1.0)  # only horizontal gradients
    assert sum(v for k, v in f.items() if k.startswith("orientation_")) == pytest.approx(1.0)
    # 7 black/white boundaries inside 32 columns; a step marks the two columns beside it with magnitude 0.5
    assert f["edge_density"] == 14 / 32
    assert f["energy"] == pytest.approx(0.5 * 14 / 32)
    # a white column with black on one side sees 5 of 8 neighbours >= itself (code 5): columns
    # 4, 7, 12, 15, 20, 23, 28; every other pixel (black ones too) sees 8 (the border is replicated)
    assert f["lbp1_5"] == 7 / 32 and f["lbp1_8"] == 25 / 32


def test_horizontal_stripes_put_the_gradient_at_90_degrees():
    f = named(stripes(vertical=False))
    assert f["orientation_90"] == pytest.approx(1.0) and f["edge_density"] == 14 / 32


def test_features_do_not_depend_on_the_batch():
    batch = np.random.default_rng(0).integers(0, 256, (classical.CHUNK + 6, 12, 12, 3), dtype=np.uint8)
    together = classical.features(batch)
    alone = np.concatenate([classical.features(image[None]) for image in batch])
    assert together.shape == (len(batch), len(classical.names()))
    np.testing.assert_array_equal(together, alone)
    np.testing.assert_array_equal(together, classical.features(batch))  # deterministic


def test_C_is_chosen_on_validation():
    # train is 70% class 0, val balanced: a tiny C keeps only the intercept (always class 0, val
    # accuracy 0.5); C = 1 separates the classes. Flipping val's labels must flip the choice.
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], [70, 30])
    x = np.c_[np.where(y == 1, 2.0, -2.0) + rng.normal(0, 0.5, len(y)), rng.normal(0, 1, len(y))]
    yv = np.repeat([0, 1], [25, 25])
    xv = np.c_[np.where(yv == 1, 2.0, -2.0) + rng.normal(0, 0.5, len(yv)), rng.normal(0, 1, len(yv))]
    _, C, scores = classical.search(x, y, xv, yv, [1e-6, 1.0], root=False)
    assert C == 1.0 and scores[1e-6]["accuracy"] == 0.5 and scores[1.0]["accuracy"] == 1.0
    _, C, scores = classical.search(x, y, xv, 1 - yv, [1e-6, 1.0], root=False)
    assert C == 1e-6 and scores[1.0]["accuracy"] == 0.0


def test_baseline_learns_two_synthetic_hands():
    def images(start, count):
        pics = [drawing(style, i) for style in ("other", "target") for i in range(start, start + count)]
        return np.stack([np.asarray(p) for p in pics]), np.repeat([0, 1], count)

    (x, y), (xv, yv), (xt, yt) = images(0, 30), images(100, 15), images(200, 15)
    f = classical.features
    fitted, C, scores = classical.search(f(x), y, f(xv), yv, [0.01, 1.0])
    assert scores[C]["accuracy"] >= 0.95
    model = classical.from_fitted(fitted, classical.names.__defaults__ and dict(
        colour_bins=4, orientations=8, edge_threshold=0.1, lbp_radii=[1, 3]), True)  # uint8 images in
    p = model.predict_proba(xt)[:, 1]
    assert ((p >= 0.5) == yt).mean() >= 0.95
    np.testing.assert_array_equal(p, fitted.predict_proba(f(xt))[:, 1])


def test_saved_baseline_is_plain_json_and_predicts_exactly_the_same(tmp_path):
    def images(start, count):
        pics = [drawing(style, i) for style in ("other", "target") for i in range(start, start + count)]
        return np.stack([np.asarray(p) for p in pics]), np.repeat([0, 1], count)

    (x, y), (xt, _) = images(0, 20), images(300, 5)
    fitted, _, _ = classical.search(classical.features(x, **SETTINGS), y, classical.features(xt, **SETTINGS),
                                    np.repeat([0, 1], 5), [0.1])
    model = classical.from_fitted(fitted, SETTINGS, True)
    classical.save(model, tmp_path / "b.weights.json")
    again = classical.load(tmp_path / "b.weights.json")
    assert (tmp_path / "b.weights.json").read_text().startswith('{"features"')
    np.testing.assert_array_equal(again.predict_proba(xt), model.predict_proba(xt))
    np.testing.assert_array_equal(again.predict_proba(xt), fitted.predict_proba(classical.features(xt, **SETTINGS)))
    classical.save(again, tmp_path / "c.weights.json")  # saving is deterministic: the same bytes
    assert (tmp_path / "c.weights.json").read_bytes() == (tmp_path / "b.weights.json").read_bytes()


def test_probe_images_for_the_baseline():
    pixels = np.random.default_rng(2).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    processed = Processed(pd.DataFrame({"id": ["a", "b", "c"], "row": [0, 1, 2]}), pixels, {})
    original = registry.images(processed, ["c", "a"], "original", 180)
    np.testing.assert_array_equal(original, pixels[[2, 0]])
    gray = registry.images(processed, ["c", "a"], "grayscale", 180)
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    assert not (original[..., 0] == original[..., 1]).all()


def test_missing_baseline_model_names_the_file(tmp_path):
    (tmp_path / "baseline.json").write_text('{"name": "baseline", "version": "v2"}')
    features = type("F", (), {"info": {"hue_degrees": 180}})()
    with pytest.raises(UserError, match=f"{tmp_path}/baseline.weights.json: file not found"):
        registry.load(f"{tmp_path}/baseline.weights.json", features, None)
    (tmp_path / "baseline.weights.json").write_text("cos\nsystem\n(S'echo pwned'\ntR.")  # a pickle
    with pytest.raises(UserError, match="not a baseline model saved by this pipeline"):
        registry.load(f"{tmp_path}/baseline.weights.json", features, None)
