"""Head training shared by train_base and train_refined.

The head learns on cached backbone features, so a head experiment never reruns the backbone.
The result is exported as one end-to-end model (uint8 image in, probability out) beside a
small JSON that says how it was made and how images must be prepared for it, and the model's
novelty (models.novelty: how unlike the training images a picture is, with its threshold).
"""
import time

import numpy as np
import pandas as pd

from artist_style.backend import keras
from artist_style.data.features import Features
from artist_style.files import ensure_parent, read_csv, require_dir, write_json
from artist_style.models import network
from artist_style.models.card import ModelCard
from artist_style.models.novelty import POOLING as NOVELTY_POOLING
from artist_style.models.novelty import Novelty, signed_log

METRICS = ("loss", "accuracy", "auc")


def split_labels(table, target=None):
    """A split table's labels: its `label` column, or 1 where `source` is `target` (the artist-swap tasks)."""
    if target is None:
        return table["label"].to_numpy(dtype=int)
    return (table["source"] == target).to_numpy(dtype=int)


def labelled(features, table, augmented, target=None):
    """(feature rows, labels) of a split table's images: originals, plus their augmented views if asked.
    target: label by this source instead of the split's labels (see split_labels)."""
    rows, ids = features.rows(table["id"])
    if augmented:
        view_rows, view_ids = features.rows(table["id"], kind="view")
        rows, ids = np.concatenate([rows, view_rows]), np.concatenate([ids, view_ids])
    labels = pd.Series(split_labels(table, target), index=table["id"])
    return rows, labels.loc[ids].to_numpy(dtype=np.float32)


IN_MEMORY_BYTES = 256 * 2**20  # up to this size the rows are read once and batches gathered in memory


def batch_order(rows, batch_size, epochs, seed=None):
    """(epochs, n) positions into `rows`: each epoch a permutation drawn from `seed` (None: in order, one
    epoch), each batch's positions sorted by row, so that a batch reads the memory map sequentially."""
    n = len(rows)
    if seed is None:
        orders = np.arange(n)[None]
    else:
        rng = np.random.default_rng(seed)
        orders = np.stack([rng.permutation(n) for _ in range(epochs)])
    for order in orders:
        for start in range(0, n, batch_size):
            part = order[start:start + batch_size]
            order[start:start + batch_size] = part[np.argsort(rows[part], kind="stable")]
    return orders


def batches(array, rows, labels, batch_size, epochs=1, seed=None):
    """A tf.data.Dataset of (features, labels) batches of array[rows]: `epochs` passes in batch_order.
    A small set (IN_MEMORY_BYTES) is read once and its batches are gathered in memory; a large one is
    read batch by batch from the memory map, so it never has to fit in memory. The batches are the
    same either way."""
    import tensorflow as tf

    orders = batch_order(rows, batch_size, epochs, seed)
    positions = tf.data.Dataset.from_tensor_slices(orders)
    positions = positions.flat_map(lambda order: tf.data.Dataset.from_tensor_slices(order).batch(batch_size))
    positions = positions.apply(tf.data.experimental.assert_cardinality(len(orders) * -(-len(rows) // batch_size)))
    y = tf.constant(np.asarray(labels, dtype=np.float32))
    if len(rows) * array.shape[1] * 4 <= IN_MEMORY_BYTES:
        kept = np.unique(rows)  # sorted, so the rows keep their order
        x, local = tf.constant(np.asarray(array[kept], dtype=np.float32)), tf.constant(np.searchsorted(kept, rows))
        data = positions.map(lambda i: (tf.gather(x, tf.gather(local, i)), tf.gather(y, i)))
    else:
        def read(i):
            return np.asarray(array[rows[i]], dtype=np.float32)

        def features(i):
            return tf.ensure_shape(tf.numpy_function(read, [i], tf.float32, stateful=False), (None, array.shape[1]))

        data = positions.map(lambda i: (features(i), tf.gather(y, i)))
    options = tf.data.Options()  # a gather needs no tuning; on 2 cores tf.data's autotuner made a fit take
    options.autotune.enabled = False  # ~12 s instead of ~8 s in 3 of 7 runs (docs/BENCHMARKS.md)
    return data.prefetch(2).with_options(options)


def moments(array, rows, log_features=False, chunk=4096):
    """Per-feature mean and variance of array[rows] (of their signed log, if asked), read in chunks
    (float64 sums)."""
    total = np.zeros(array.shape[1])
    squares = np.zeros(array.shape[1])
    for start in range(0, len(rows), chunk):
        part = np.asarray(array[np.sort(rows[start:start + chunk])], dtype=np.float64)
        part = signed_log(part) if log_features else part
        total += part.sum(axis=0)
        squares += np.square(part).sum(axis=0)
    mean = total / len(rows)
    return mean, np.maximum(squares / len(rows) - np.square(mean), 0.0)


def class_weights(labels, rule):
    """Keras' class_weight for `rule`: None (every row counts once) or, for "balanced", n / (2 n_class), so
    both classes weigh the same in the loss, as in balanced accuracy (1 and 1 when they are equally many)."""
    if rule == "none":
        return None
    counts = np.bincount(np.asarray(labels, dtype=int), minlength=2)
    if counts.min() == 0:
        return None
    return {c: float(len(labels) / (2 * counts[c])) for c in (0, 1)}


class KeepBest(keras.callbacks.Callback):
    """Remember the weights of the epoch with the best validation accuracy; among epochs tied on it
    (common with small validation sets), the one with the lowest validation loss."""

    def __init__(self):
        super().__init__()
        self.best, self.epoch, self.weights = None, None, None

    def on_epoch_end(self, epoch, logs=None):
        score = (logs["val_accuracy"], -logs["val_loss"])
        if self.best is None or score > self.best:
            self.best, self.epoch, self.weights = score, epoch, self.model.get_weights()


def fit_head(cfg, seed, array, train, val, live_dir=None):
    """Train the head on array's rows train = (rows, labels), validated on val = (rows, labels) (None: not
    validated; then cfg.keep must be last), logged with dvclive into live_dir (None: not logged); keep the
    best-val-accuracy epoch or the last. Returns (head, history, kept epoch index)."""
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    rows, y = train
    steps = -(-len(rows) // cfg.batch_size)
    fit_args = {"x": batches(array, rows, y, cfg.batch_size, cfg.epochs, seed), "steps_per_epoch": steps,
                "validation_data": None if val is None else batches(array, *val, cfg.batch_size), "epochs": cfg.epochs,
                "shuffle": False, "class_weight": class_weights(y, cfg.class_weight)}  # batch_order shuffles
    stats = moments(array, rows, cfg.log_features) if cfg.standardize else None
    head = network.build_head(array.shape[1], cfg.units, cfg.dropout, cfg.l2, stats, cfg.log_features)
    loss = keras.losses.BinaryCrossentropy(label_smoothing=cfg.label_smoothing)
    head.compile(optimizer=keras.optimizers.Adam(cfg.learning_rate), loss=loss,
                 metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")],
                 steps_per_execution=steps)  # one call per epoch: the same steps, less Python
    best = [KeepBest()] if cfg.keep == "best" else []
    if live_dir is None:
        history = head.fit(**fit_args, callbacks=best, verbose=0).history
        kept = best[0].epoch if best else cfg.epochs - 1
    else:
        from dvclive import Live
        from dvclive.keras import DVCLiveCallback
        with Live(live_dir, dvcyaml=False, save_dvc_exp=False) as live:
            history = head.fit(**fit_args, callbacks=[DVCLiveCallback(live=live), *best], verbose=2).history
            kept = best[0].epoch if best else cfg.epochs - 1
            for key, values in history.items():  # the summary describes the kept epoch, not the last one
                live.log_metric(f"eval/{key[4:]}" if key.startswith("val_") else f"train/{key}", float(values[kept]),
                                plot=False)
            live.summary["kept_epoch"] = kept + 1
    if best:
        head.set_weights(best[0].weights)
    return head, history, kept


def probabilities(head, array, rows, chunk=4096):
    """The head's probabilities of array[rows], in chunks; the head is called directly (Keras' predict()
    costs ~0.1 s a call)."""
    parts = [np.asarray(head(np.asarray(array[rows[i:i + chunk]]), training=False)).ravel()
             for i in range(0, len(rows), chunk)]
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)


def fit_and_refit(cfg, seed, array, train, val, more, live_dir=None):
    """fit_head on train, validated on val; then, with cfg.refit, train a fresh head on train + `more` (the
    validation images and their views: (rows, labels)) for the epochs the first fit kept, as the final
    head. The validation images' probabilities stay the first fit's, from a head that never saw them:
    the threshold, the combined model and the reported validation metrics need held-out ones.
    Returns (head, history and kept epoch index of the first fit, validation probabilities)."""
    head, history, kept = fit_head(cfg, seed, array, train, val, live_dir)
    held_out = probabilities(head, array, val[0])
    if cfg.refit:
        again = cfg.model_copy(update={"epochs": kept + 1, "keep": "last"})
        both = (np.concatenate([train[0], more[0]]), np.concatenate([train[1], more[1]]))
        head, _, _ = fit_head(again, seed, array, both, None)
    return head, history, kept, held_out


def fit_on_split(cfg, seed, features, split_dir, live_dir=None, target=None):
    """fit_and_refit on the cached features of a split folder's train and val images; target as in
    labelled. Returns (head, history, kept epoch index, (train labels, val labels), the val images'
    held-out probabilities as a Series by id)."""
    array = features.array(cfg.pooling)
    train, val = (read_csv(f"{split_dir}/{name}.csv", dtype={"id": str}) for name in ("train", "val"))
    rows, y = labelled(features, train, cfg.augmented, target)
    val_rows, yv = labelled(features, val, False, target)
    more = labelled(features, val, cfg.augmented, target) if cfg.refit else None
    head, history, kept, held_out = fit_and_refit(cfg, seed, array, (rows, y), (val_rows, yv), more, live_dir)
    return head, history, kept, (y, yv), pd.Series(held_out, index=val["id"].to_numpy(), name="probability")


def novelty_data(features, array, split_dir):
    """(features of the training split's original images, their groups, features of the validation
    images), in row order: what a novelty is fitted on (views are the head's, not the user's pictures)."""
    train = read_csv(f"{split_dir}/train.csv", dtype={"id": str, "group": str})
    train_rows, _ = features.rows(train["id"])
    order = np.argsort(train_rows)
    val_rows, _ = features.rows(read_csv(f"{split_dir}/val.csv", dtype={"id": str})["id"])
    return array[train_rows[order]], train["group"].to_numpy()[order], array[np.sort(val_rows)]


def fit_novelty(features, split_dir, cfg):
    """The novelty of the training originals' style features (novelty.POOLING), its threshold from the
    validation split and the training images' held-out scores."""
    train, groups, val = novelty_data(features, features.array(NOVELTY_POOLING), split_dir)
    return Novelty.fit(train, val, cfg.novelty_neighbours, cfg.novelty_quantile, groups)


def train(name, cfg, seed, features_dir, split_dir, model_path, metrics_path, live_dir):
    """Train the head `name` per `cfg` (config.Train) on the split in `split_dir`, export the end-to-end
    model to `model_path` with its card, write the metrics; returns a one-line summary."""
    features = Features(features_dir)
    info = features.info
    require_dir(split_dir, f"the split lists of {name}'s version {cfg.version}")
    start = time.time()
    head, history, kept, (y, yv), held_out = fit_on_split(cfg, seed, features, split_dir, live_dir)
    seconds = time.time() - start

    model = network.export(info["backbone"], features.backbone(), cfg.pooling, head, features.correlations)
    network.save_model(model, ensure_parent(model_path))
    card = ModelCard(model_path)
    card.save_validation(held_out)
    card.save_meta({
        "name": name, "version": cfg.version, "pooling": cfg.pooling,
        "backbone": info["backbone"], "weights": info["weights"], "fingerprint": info["fingerprint"],
        "correlations": features.correlations,
        "image_size": info["image_size"], "resize": info["resize"]})
    novelty = fit_novelty(features, split_dir, cfg)
    card.save_novelty(novelty)
    write_json(metrics_path, {
        "epochs": cfg.epochs, "kept_epoch": kept + 1, "n_train": len(y), "n_val": len(yv),
        "train": {m: round(float(history[m][kept]), 6) for m in METRICS},
        "val": {m: round(float(history["val_" + m][kept]), 6) for m in METRICS}})
    refit = f", refit on train + val for {kept + 1} epochs" if cfg.refit else ""
    return (f"kept epoch {kept + 1}/{cfg.epochs}, val accuracy {history['val_accuracy'][kept]:.3f}, "
            f"{len(y)} training rows{refit}, head trained in {seconds:.1f} s, "
            f"novelty threshold {novelty.threshold:.2f} -> {model_path}")
