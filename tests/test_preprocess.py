"""preprocess and featurize's inputs: known images give known arrays; augmented views are seeded per image."""
import json

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from artist_style.config import Featurize
from artist_style.data.features import view_transform
from artist_style.errors import UserError
from artist_style.models import network
from tests.conftest import ROOT, png_bytes, sh


def test_preprocess_stage_writes_known_pixels(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    red = Image.new("RGB", (40, 20), (255, 0, 0))
    clear_blue = Image.new("RGBA", (30, 30), (0, 0, 255, 0))
    (raw / "red.png").write_bytes(png_bytes(red))
    (raw / "clear.png").write_bytes(png_bytes(clear_blue))
    pd.DataFrame({"id": ["aa00000000000001", "aa00000000000002"], "path": [str(raw)] * 2,
                  "member": ["red.png", "clear.png"]}).to_csv(tmp_path / "images.csv", index=False)
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    p["preprocess"] = {"image_size": 32, "resize": "pad", "workers": 1}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(p))
    (tmp_path / "data").symlink_to(ROOT / "data")  # params.yaml's sources must exist
    sh(tmp_path, "python", "-m", "stages.preprocess", "--images", "images.csv", "--out", "out",
       env={"PYTHONPATH": str(ROOT)})
    pixels = np.load(tmp_path / "out/images.npy")
    assert pixels.shape == (2, 32, 32, 3) and pixels.dtype == np.uint8
    assert pixels[0, 16].tolist() == [[255, 0, 0]] * 32  # red band across the middle
    assert pixels[0, 0].tolist() == [[255, 255, 255]] * 32  # white padding above
    assert (pixels[1] == 255).all()  # fully transparent: white
    index = pd.read_csv(tmp_path / "out/index.csv", dtype={"id": str})
    assert index.values.tolist() == [["aa00000000000001", 0], ["aa00000000000002", 1]]
    assert json.loads((tmp_path / "out/meta.json").read_text()) == {"image_size": 32, "resize": "pad"}


def test_views_are_seeded_per_image_and_within_ranges():
    p = yaml.safe_load((ROOT / "params.yaml").read_text())["featurize"]
    cfg = Featurize.model_validate({**p, "shift": 0.1, "zoom": 0.2, "flip": True})
    a = view_transform("00000000000000ff", 0, cfg, 7, 224)
    assert a == view_transform("00000000000000ff", 0, cfg, 7, 224)
    assert a != view_transform("00000000000000ff", 1, cfg, 7, 224)
    assert a != view_transform("00000000000000fe", 0, cfg, 7, 224)
    flips = 0
    colours = cfg.model_copy(update={"view_colours": ["grayscale", "hue", "none"]})
    for view in range(200):
        t, colour, degrees = view_transform("0000000000000abc", view, colours, 7, 224)
        assert 0.8 <= abs(t[0]) <= 1.2 and 0.8 <= t[4] <= 1.2 and t[1] == t[3] == 0
        assert colour == ["grayscale", "hue", "none"][view % 3] and 30 <= degrees <= 330
        flips += t[0] < 0
    assert 60 < flips < 140  # about half flipped
    still = cfg.model_copy(update={"flip": False, "zoom": 0.0, "shift": 0.0, "view_colours": []})
    assert view_transform("0000000000000abc", 0, still, 7, 224)[:2] == ([1.0, 0, 0.0, 0, 1.0, 0.0, 0, 0], "none")


def test_colour_views_change_only_their_own_images():
    from artist_style.data.features import colour_views
    from artist_style.data.images import grayscale, hue_rotate
    images = np.random.default_rng(0).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    draws = [(None, "grayscale", 90.0), (None, "hue", 120.0), (None, "none", 200.0)]
    out = colour_views(images, draws)
    assert np.array_equal(out[0], grayscale(images[:1])[0])
    assert np.array_equal(out[1], hue_rotate(images[1:2], 120.0)[0])
    assert np.array_equal(out[2], images[2]) and not np.array_equal(out, images)


def test_imagenet_weights_offline_is_a_clear_error(monkeypatch):
    import keras

    def offline(*args, **kwargs):
        raise OSError("URL fetch failure: no network")
    monkeypatch.setattr(keras.utils, "get_file", offline)
    monkeypatch.setattr("keras.src.applications.mobilenet_v2.file_utils.get_file", offline, raising=False)
    with pytest.raises(UserError, match="imagenet: could not get the ImageNet weights for mobilenet_v2"):
        network.build_backbone("mobilenet_v2", "imagenet", 96)
