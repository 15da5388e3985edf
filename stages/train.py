"""Head training shared by train_base and train_refined.

The head learns on cached backbone features, so a head experiment never reruns the backbone.
The result is exported as one end-to-end model (uint8 image in, probability out) beside a
small JSON that says how it was made and how images must be prepared for it.
"""
import argparse
import tempfile
import time

import numpy as np

from stages import network, params
from stages.common import UserError, ensure_parent, read_csv, split_folder, write_json
from stages.featurize import Features

METRICS = ("loss", "accuracy", "auc")


def labelled(features, split_file, pooling, augmented):
    """(x, y) for the images of a split: originals, plus their augmented views if asked."""
    table = read_csv(split_file, dtype={"id": str})
    x, ids = features.get(table["id"], pooling)
    if augmented:
        views, view_ids = features.get(table["id"], pooling, kind="view")
        x, ids = np.concatenate([x, views]), np.concatenate([ids, view_ids])
    labels = table.set_index("id")["label"]
    return x, labels.loc[ids].to_numpy(dtype=np.float32)


def fit_head(cfg, seed, x, y, xv, yv, live_dir):
    """Train the head with dvclive logging; keep the best-val-accuracy epoch or the last."""
    import keras
    import tensorflow as tf
    from dvclive import Live
    from dvclive.keras import DVCLiveCallback

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()
    head = network.build_head(x.shape[1], cfg, x)
    head.compile(optimizer=keras.optimizers.Adam(cfg["learning_rate"]), loss="binary_crossentropy",
                 metrics=[keras.metrics.BinaryAccuracy(name="accuracy"), keras.metrics.AUC(name="auc")])
    with tempfile.TemporaryDirectory() as tmp, Live(live_dir, dvcyaml=False, save_dvc_exp=False) as live:
        best = f"{tmp}/best.weights.h5"
        callbacks = [DVCLiveCallback(live=live)]
        if cfg["keep"] == "best":
            callbacks.append(keras.callbacks.ModelCheckpoint(best, monitor="val_accuracy", mode="max",
                                                             save_best_only=True, save_weights_only=True))
        history = head.fit(x, y, validation_data=(xv, yv), epochs=cfg["epochs"], batch_size=cfg["batch_size"],
                           shuffle=True, callbacks=callbacks, verbose=2).history
        if cfg["keep"] == "best":
            head.load_weights(best)
    kept = int(np.argmax(history["val_accuracy"])) if cfg["keep"] == "best" else cfg["epochs"] - 1
    return head, history, kept


def main(section):
    parser = argparse.ArgumentParser(description=f"{section}: train a head on cached features and export the model")
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--splits", default="data/splits")
    parser.add_argument("--model", default=f"models/{section.removeprefix('train_')}.keras")
    parser.add_argument("--metrics", default=f"metrics/{section}.json")
    parser.add_argument("--live", default=f"plots/{section}")
    args = parser.parse_args()
    p = params.load(section)
    cfg, seed = p[section], p["seed"]
    features = Features(args.features)
    info = features.info
    split_dir = split_folder(args.splits, section, cfg["version"])
    x, y = labelled(features, f"{split_dir}/train.csv", cfg["pooling"], cfg["augmented"])
    xv, yv = labelled(features, f"{split_dir}/val.csv", cfg["pooling"], False)
    start = time.time()
    head, history, kept = fit_head(cfg, seed, x, y, xv, yv, args.live)
    seconds = time.time() - start

    backbone = network.build_backbone(info["backbone"], info["weights"], info["image_size"], info["seed"])
    if network.fingerprint(backbone) != info["fingerprint"]:
        raise UserError(f"the {info['backbone']} backbone built now differs from the one featurize used "
                        f"(weights {info['weights']!r} changed?): rerun dvc repro featurize")
    model = network.export(info["backbone"], backbone, cfg["pooling"], head)
    model.save(ensure_parent(args.model))
    write_json(args.model.removesuffix(".keras") + ".json", {
        "name": section.removeprefix("train_"), "version": cfg["version"], "pooling": cfg["pooling"],
        "backbone": info["backbone"], "weights": info["weights"], "fingerprint": info["fingerprint"],
        "image_size": info["image_size"], "resize": info["resize"]})
    write_json(args.metrics, {
        "epochs": cfg["epochs"], "kept_epoch": kept + 1, "n_train": len(y), "n_val": len(yv),
        "train": {m: round(float(history[m][kept]), 6) for m in METRICS},
        "val": {m: round(float(history["val_" + m][kept]), 6) for m in METRICS}})
    print(f"{section}: kept epoch {kept + 1}/{cfg['epochs']}, val accuracy {history['val_accuracy'][kept]:.3f}, "
          f"{len(y)} training rows, head trained in {seconds:.1f} s -> {args.model}")
