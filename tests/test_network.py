"""Backbones, their weights and normalisation, head training, and the exported end-to-end model."""
import h5py
import numpy as np
import pytest
from keras import ops

from artist_style.errors import UserError
from artist_style.models import network, registry


@pytest.mark.parametrize("name, gap_dim, style_dim", [
    ("vgg16", 512, 2 * (64 + 128 + 256 + 512 + 512)),
    ("vgg19", 512, 2 * (64 + 128 + 256 + 512 + 512)),
    ("resnet50", 2048, 2 * (64 + 256 + 512 + 1024 + 2048)),
    ("mobilenet_v2", 1280, 2 * (96 + 144 + 192 + 576 + 1280)),
    ("efficientnet_b0", 1280, 2 * (32 + 24 + 40 + 112 + 1280)),
])
def test_each_backbone_builds_with_random_weights(name, gap_dim, style_dim):
    backbone = network.build_backbone(name, "none", 64, seed=1)
    assert not backbone.trainable
    featurizer = network.build_featurizer(name, backbone)
    out = featurizer.predict(np.full((2, 64, 64, 3), 128, np.float32), verbose=0)
    assert out["gap"].shape == (2, gap_dim) and out["style"].shape == (2, style_dim)
    assert np.isfinite(out["style"]).all()
    assert out["style"].std() > 0


def test_same_seed_same_random_backbone():
    a = network.fingerprint(network.build_backbone("mobilenet_v2", "none", 32, seed=3))
    b = network.fingerprint(network.build_backbone("mobilenet_v2", "none", 32, seed=3))
    c = network.fingerprint(network.build_backbone("mobilenet_v2", "none", 32, seed=4))
    assert a == b != c


def test_features_rebuild_their_backbone_and_refuse_one_that_changed(tmp_path):
    from artist_style.data.features import Features
    from artist_style.files import write_json
    (tmp_path / "index.csv").write_text("id,kind,view,row\n")
    info = {"backbone": "mobilenet_v2", "weights": "none", "image_size": 32, "seed": 3}
    fingerprint = network.fingerprint(network.build_backbone("mobilenet_v2", "none", 32, seed=3))
    write_json(tmp_path / "backbone.json", {**info, "fingerprint": fingerprint})
    features = Features(str(tmp_path))
    assert network.fingerprint(features.backbone()) == fingerprint and features.correlations == 0
    write_json(tmp_path / "backbone.json", {**info, "seed": 4, "fingerprint": fingerprint, "correlations": 8})
    features = Features(str(tmp_path))
    assert features.correlations == 8
    with pytest.raises(UserError, match="differs from the one featurize used"):
        features.backbone()


def test_hed_weights_really_load():
    backbone = network.build_backbone("vgg16", "hed", 32)
    with h5py.File(network.hed_weights_file()) as f:
        for layer, key in (("block1_conv1", "block1/layers/conv2d/vars"),
                           ("block5_conv3", "block5/layers/conv2d_2/vars")):
            kernel, bias = backbone.get_layer(layer).get_weights()
            assert np.array_equal(kernel, f[key]["0"][()]) and np.array_equal(bias, f[key]["1"][()])
    random = network.build_backbone("vgg16", "none", 32, seed=0)
    assert network.fingerprint(backbone) != network.fingerprint(random)
    # trained first-layer filters have non-zero biases and are far from Glorot-uniform's spread
    kernel, bias = backbone.get_layer("block1_conv1").get_weights()
    assert np.abs(bias).mean() > 0.1
    assert abs(kernel.std() - random.get_layer("block1_conv1").get_weights()[0].std()) > 0.05


def test_hed_needs_vgg16():
    with pytest.raises(UserError, match="hed is only for backbone vgg16"):
        network.build_backbone("resnet50", "hed", 32)
    with pytest.raises(UserError, match="bundled is only for backbone vgg19"):
        network.build_backbone("vgg16", "bundled", 32)


def test_bundled_vgg19_weights_are_imagenets():
    backbone = network.build_backbone("vgg19", "bundled", 32)
    with np.load(network.BUNDLED_VGG19) as weights:
        assert len(weights.files) == 3 * 16  # every convolution of VGG19: index, values, bias
        for layer in ("block1_conv1", "block3_conv4", "block5_conv4"):
            kernel, bias = backbone.get_layer(layer).get_weights()
            assert np.array_equal(bias, weights[f"{layer}/bias"])
            assert len(np.unique(kernel)) <= 256  # quantized: 256 values per layer, at their places
            assert np.array_equal(kernel, weights[f"{layer}/values"][weights[f"{layer}/index"]])
    # ImageNet's first layer as in Keras' vgg19 h5 (biases 0.730, 0.065, 0.034 ...), far from a random one
    kernel, bias = backbone.get_layer("block1_conv1").get_weights()
    assert np.allclose(bias[:3], [0.7301776, 0.0649363, 0.0342885], atol=1e-6)
    random = network.build_backbone("vgg19", "none", 32, seed=0)
    assert network.fingerprint(backbone) != network.fingerprint(random)
    assert abs(kernel.std() - random.get_layer("block1_conv1").get_weights()[0].std()) > 0.05


def test_caffe_normalisation_is_bgr_minus_imagenet_mean():
    pixel = np.array([[[[10, 20, 30]]]], dtype=np.uint8)
    out = np.asarray(network.Normalise("caffe")(pixel))
    assert np.allclose(out[0, 0, 0], [30 - 103.939, 20 - 116.779, 10 - 123.68], atol=1e-4)
    scaled = np.asarray(network.Normalise("tf")(pixel))[0, 0, 0]
    assert np.allclose(scaled, [10 / 127.5 - 1, 20 / 127.5 - 1, 30 / 127.5 - 1])


def test_head_learns_a_separable_problem():
    import keras
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (100, 20)), rng.normal(1.5, 1, (100, 20))]).astype(np.float32)
    y = np.array([0] * 100 + [1] * 100, dtype=np.float32)
    keras.utils.set_random_seed(0)
    head = network.build_head(20, 16, moments=(x.mean(axis=0), x.var(axis=0)))
    head.compile(optimizer=keras.optimizers.Adam(0.01), loss="binary_crossentropy", metrics=["accuracy"])
    head.fit(x, y, epochs=30, batch_size=16, verbose=0)
    accuracy = ((head.predict(x, verbose=0).ravel() >= 0.5) == y).mean()
    assert accuracy >= 0.95


def test_signed_log_head_standardises_the_logged_features():
    import keras

    from artist_style.models.heads import moments
    from artist_style.models.novelty import signed_log
    rng = np.random.default_rng(3)
    x = (rng.lognormal(0, 2, (300, 6)) * np.array([1, 1, 1, -1, 1, 1])).astype(np.float32)  # one negative column
    rows = np.arange(0, 300, 2)
    mean, variance = moments(x, rows, log_features=True)
    logged = signed_log(x[rows])
    assert np.allclose(mean, logged.mean(axis=0)) and np.allclose(variance, logged.var(axis=0))
    assert not np.allclose(mean, x[rows].mean(axis=0))
    head = network.build_head(6, 4, moments=(mean, variance), log_features=True)
    assert np.allclose(ops.convert_to_numpy(head.get_layer("signed_log")(x[rows])), logged, atol=1e-5)
    standardised = ops.convert_to_numpy(keras.Model(head.input, head.get_layer("standardize").output)(x[rows]))
    assert np.allclose(standardised.mean(axis=0), 0, atol=1e-4) and np.allclose(standardised.std(axis=0), 1, atol=1e-3)


@pytest.mark.parametrize("pooling, log_features", [("gap", False), ("style", False), ("style", True)])
def test_exported_model_equals_feature_path(pooling, log_features, tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (12, 32, 32, 3), dtype=np.uint8)
    backbone = network.build_backbone("vgg16", "none", 32, seed=2)
    features = network.build_featurizer("vgg16", backbone).predict(images.astype(np.float32), verbose=0)[pooling]
    moments = (features.mean(axis=0), features.var(axis=0))
    head = network.build_head(features.shape[1], 16, dropout=0.5, l2=0.01, moments=moments, log_features=log_features)
    head.compile(optimizer="adam", loss="binary_crossentropy")
    head.fit(features, (rng.random(12) > 0.5).astype(np.float32), epochs=2, verbose=0)
    model = network.export("vgg16", backbone, pooling, head)
    path = tmp_path / "m.keras"
    model.save(path)
    loaded = network.load_model(str(path))
    via_features = head.predict(features, verbose=0).ravel()
    end_to_end = loaded.predict(images, verbose=0).ravel()
    assert loaded.input.dtype == "uint8"
    assert np.abs(end_to_end - via_features).max() < 1e-5
    assert via_features.std() > 0  # not a constant output


def test_with_features_gives_style_features_whatever_the_head_reads():
    rng = np.random.default_rng(4)
    images = rng.integers(0, 256, (3, 32, 32, 3), dtype=np.uint8)
    backbone = network.build_backbone("vgg19", "none", 32, seed=2)
    featurizer = network.build_featurizer("vgg19", backbone, correlations=4)
    cached = featurizer.predict(images.astype(np.float32), verbose=0)
    for pooling in ("gap", "style"):
        head = network.build_head(cached[pooling].shape[1], 8)
        model = network.export("vgg19", backbone, pooling, head, correlations=4)
        two_outputs = network.with_features(model, {"backbone": "vgg19", "correlations": 4})
        probs, novelty_features = two_outputs.predict(images, verbose=0)
        assert np.allclose(probs, model.predict(images, verbose=0), atol=1e-6)  # the same answer
        assert novelty_features.shape == (3, 2 * 1472 + 5 * 6)  # style: means, sds, 6 correlations per block
        assert np.allclose(novelty_features, cached["style"], rtol=1e-4, atol=1e-4)


def test_run_in_batches_equals_predict_on_every_output():
    rng = np.random.default_rng(3)
    images = rng.integers(0, 256, (7, 32, 32, 3), dtype=np.uint8)  # 7 = 3 + 3 + a last batch of 1
    backbone = network.build_backbone("vgg16", "none", 32, seed=2)
    head = network.build_head(2 * (64 + 128 + 256 + 512 + 512), 8)
    model = network.with_features(network.export("vgg16", backbone, "style", head), {"backbone": "vgg16"})
    probs, pooled = registry.run_in_batches(model, images, batch_size=3)
    expected = model.predict(images, batch_size=3, verbose=0)  # the same batches: the same digits
    assert probs.shape == (7, 1) and pooled.shape == (7, 2944)
    assert np.array_equal(probs, expected[0]) and np.array_equal(pooled, expected[1])
    assert pooled.std() > 0


def test_load_model_errors_are_one_line(tmp_path):
    with pytest.raises(UserError, match="model file not found"):
        network.load_model(str(tmp_path / "nope.keras"))
    bad = tmp_path / "bad.keras"
    bad.write_bytes(b"not a zip")
    with pytest.raises(UserError, match="cannot load as a Keras model"):
        network.load_model(str(bad))


def test_bfloat16_falls_back_to_float32_with_one_line_where_the_cpu_lacks_it(monkeypatch):
    monkeypatch.setattr(network, "bf16_supported", lambda: False)
    assert network.resolve_precision("bfloat16") == ("float32", network.resolve_precision("bfloat16")[1])
    note = network.resolve_precision("bfloat16")[1]
    assert "no bfloat16 instructions" in note and "float32 is used" in note and "\n" not in note
    assert network.resolve_precision("float32") == ("float32", None)
    monkeypatch.setattr(network, "bf16_supported", lambda: True)
    assert network.resolve_precision("bfloat16") == ("bfloat16", None)


def test_bfloat16_backbone_computes_in_bfloat16_and_has_its_own_fingerprint():
    images = np.random.default_rng(3).integers(0, 256, (4, 32, 32, 3)).astype(np.float32)
    full = network.build_backbone("vgg16", "none", 32, seed=5)
    half = network.build_backbone("vgg16", "none", 32, seed=5, precision="bfloat16")
    assert network.precision_of(full) == "float32" and network.precision_of(half) == "bfloat16"
    assert network.fingerprint(full) != network.fingerprint(half)
    a = network.build_featurizer("vgg16", full).predict(images, verbose=0)["style"]
    b = network.build_featurizer("vgg16", half).predict(images, verbose=0)["style"]
    assert b.dtype == np.float32  # stored features stay float32
    assert np.median(np.abs(a - b) / (np.abs(a) + 1e-3)) < 0.05  # close, not equal


def test_saved_model_bytes_are_reproducible_and_load(tmp_path):
    import hashlib

    def build_and_save(path):
        backbone = network.build_backbone("vgg16", "none", 32, seed=2)
        head = network.build_head(2 * (64 + 128 + 256 + 512 + 512), 4, moments=None)
        network.save_model(network.export("vgg16", backbone, "style", head), path)
        return hashlib.sha256(path.read_bytes()).hexdigest()

    import keras
    keras.backend.clear_session()  # layer names count up within a process; each stage is a new process
    keras.utils.set_random_seed(0)
    first = build_and_save(tmp_path / "a.keras")
    keras.backend.clear_session()
    keras.utils.set_random_seed(0)
    assert build_and_save(tmp_path / "b.keras") == first
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.keras", "b.keras"]  # no temporary files left
    model = network.load_model(str(tmp_path / "a.keras"))
    assert model.predict(np.zeros((1, 32, 32, 3), np.uint8), verbose=0).shape == (1, 1)


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-5), ("bfloat16", 5e-3)])
def test_style_pooling_is_mean_and_std_per_channel(dtype, tolerance):
    rng = np.random.default_rng(0)
    maps = np.maximum(rng.normal(size=(3, 40, 40, 16)), 0)
    maps[..., ::4] += 10.0  # channels whose mean is far above their spread: no cancellation allowed
    rounded = ops.convert_to_numpy(ops.cast(ops.cast(maps, dtype), "float32")).astype(np.float64)
    pooled = ops.convert_to_numpy(network.StylePooling([0])([ops.cast(maps, dtype)]))
    assert pooled.dtype == np.float32
    expected = np.concatenate([rounded.mean(axis=(1, 2)), rounded.std(axis=(1, 2))], axis=-1)
    assert np.max(np.abs(pooled - expected) / expected) < tolerance


@pytest.mark.parametrize("dtype, tolerance", [("float32", 1e-4), ("bfloat16", 0.03)])
def test_style_pooling_correlations_are_those_of_the_projected_channels(dtype, tolerance):
    rng = np.random.default_rng(1)
    maps = np.maximum(rng.normal(size=(2, 30, 30, 12)), 0)
    maps[..., :6] += 0.8 * maps[..., 6:]  # correlated channels
    maps[..., ::4] += 10.0
    k = 5
    pooled = ops.convert_to_numpy(network.StylePooling([0], correlations=k)([ops.cast(maps, dtype)]))
    assert pooled.shape == (2, 2 * 12 + k * (k - 1) // 2)
    rounded = ops.convert_to_numpy(ops.cast(ops.cast(maps, dtype), "float32")).astype(np.float64)
    for image, row in zip(rounded, pooled):
        projected = image.reshape(-1, 12) @ network.projection(12, k, 0).astype(np.float64)
        expected = np.corrcoef(projected, rowvar=False)[np.triu_indices(k, 1)]
        assert np.max(np.abs(row[24:] - expected)) < tolerance
        assert np.max(np.abs(expected)) > 0.3  # the test has real correlations to get right
    again = network.StylePooling([0], correlations=k)  # the projection is fixed: a new layer gives the same
    assert np.array_equal(ops.convert_to_numpy(again([ops.cast(maps, dtype)])), pooled)
