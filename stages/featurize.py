"""featurize: run the frozen backbone once per image and cache both poolings.

Rows of data/features/{gap,style}.npy, listed in data/features/index.csv (id, kind, view, row):
- kind "original": every preprocessed image;
- kind "view": `views` augmented views (shift, zoom, flip; seeded per image) of every training image;
- kind "<probe>": each probe (grayscale, hue) of every test image, for evaluate's probes.
data/features/backbone.json records the backbone, its weights and their fingerprint, and how the
images were prepared (image_size, resize).
"""
import argparse
import glob
import time

import numpy as np
import pandas as pd

from stages import network, params
from stages.common import UserError, ensure_parent, read_csv, run, write_csv, write_json
from stages.images import PROBES
from stages.preprocess import open_processed, rows_for


def split_ids(splits_dir, name):
    """Sorted ids in split `name` of any dataset version."""
    files = sorted(glob.glob(f"{splits_dir}/*/{name}.csv"))
    if not files:
        raise UserError(f"no {splits_dir}/*/{name}.csv (run: dvc repro split)")
    return sorted(set().union(*(read_csv(f, dtype={"id": str})["id"] for f in files)))


def view_transform(image_id, view, cfg, seed, size):
    """The affine transform of one augmented view, drawn from a generator seeded by (seed, id, view)."""
    rng = np.random.default_rng([seed, int(image_id, 16), view])
    scale = rng.uniform(1 - cfg["zoom"], 1 + cfg["zoom"])
    dx, dy = rng.uniform(-cfg["shift"], cfg["shift"], size=2) * size
    flip = -1.0 if cfg["flip"] and rng.random() < 0.5 else 1.0
    centre = (size - 1) / 2
    # output pixel (x, y) samples input (scale*flip*(x-c) + c + dx, scale*(y-c) + c + dy)
    return [scale * flip, 0, centre - scale * flip * centre + dx, 0, scale, centre - scale * centre + dy, 0, 0]


def plan(index, splits_dir, cfg):
    """The rows to compute: (id, kind, view) in output order."""
    rows = [(i, "original", 0) for i in index["id"]]
    if cfg["views"]:
        rows += [(i, "view", v) for i in split_ids(splits_dir, "train") for v in range(cfg["views"])]
    for probe in cfg["probes"]:
        rows += [(i, probe, 0) for i in split_ids(splits_dir, "test")]
    return pd.DataFrame(rows, columns=["id", "kind", "view"])


def batches(table, pixels, index, cfg, seed):
    """Yield float32 image batches for the rows of `table`, in order."""
    from keras import ops
    size = pixels.shape[1]
    source_rows = rows_for(index, table["id"])
    for start in range(0, len(table), cfg["batch_size"]):
        part = table.iloc[start:start + cfg["batch_size"]]
        images = np.asarray(pixels[source_rows[start:start + len(part)]])
        kinds = part["kind"].to_numpy()
        for probe in cfg["probes"]:
            mask = kinds == probe
            if mask.any():
                images[mask] = PROBES[probe](images[mask], cfg["hue_degrees"])
        images = images.astype(np.float32)
        mask = kinds == "view"
        if mask.any():
            transforms = np.array([view_transform(r.id, r.view, cfg, seed, size)
                                   for r in part[mask].itertuples()], dtype=np.float32)
            images[mask] = ops.convert_to_numpy(ops.image.affine_transform(
                images[mask], transforms, interpolation="bilinear", fill_mode="nearest"))
        yield images


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processed", default="data/processed")
    parser.add_argument("--splits", default="data/splits")
    parser.add_argument("--out", default="data/features")
    args = parser.parse_args()
    p = params.load("featurize")
    cfg, seed = p["featurize"], p["seed"]

    from tqdm import tqdm

    index, pixels, prepared = open_processed(args.processed)
    backbone = network.build_backbone(cfg["backbone"], cfg["weights"], pixels.shape[1], seed)
    featurizer = network.build_featurizer(cfg["backbone"], backbone)
    table = plan(index, args.splits, cfg)
    dims = {k: v.shape[-1] for k, v in featurizer.output.items()}
    out = {k: np.lib.format.open_memmap(ensure_parent(f"{args.out}/{k}.npy"), mode="w+", dtype=np.float32,
                                        shape=(len(table), d)) for k, d in dims.items()}
    start, row = time.time(), 0
    bar = tqdm(total=len(table), desc="featurize", unit="img", disable=False, mininterval=2.0)
    for images in batches(table, pixels, index, cfg, seed):
        result = featurizer.predict_on_batch(images)
        for k in out:
            out[k][row:row + len(images)] = result[k]
        row += len(images)
        bar.update(len(images))
    bar.close()
    for array in out.values():
        array.flush()
    seconds = time.time() - start
    write_csv(f"{args.out}/index.csv", table.assign(row=range(len(table))))
    write_json(f"{args.out}/backbone.json", {
        "backbone": cfg["backbone"], "weights": cfg["weights"], "seed": seed, **prepared,
        "probes": cfg["probes"], "hue_degrees": cfg["hue_degrees"],
        "fingerprint": network.fingerprint(backbone), "dims": dims})
    counts = table["kind"].value_counts().to_dict()
    print(f"featurize: {len(table)} images {counts} in {seconds:.1f} s, {len(table) / seconds:.1f} images/s "
          f"({cfg['backbone']}, weights {cfg['weights']}, {pixels.shape[1]} px)")


if __name__ == "__main__":
    run(main)

