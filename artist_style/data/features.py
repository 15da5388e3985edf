"""Backbone features: computed once per image, augmented view and probe; read back by id.

A features folder holds {gap,style}.npy, whose rows index.csv lists (id, kind, view, row):
- kind "original": every preprocessed image;
- kind "view": `views` augmented views of every training and validation image (a head refit on train + val
  learns from the validation images' views too): shift, zoom and flip, and view k's
  colour change view_colours[k % len(view_colours)] (none, grayscale, or hue rotated by a random
  30..330 degrees), all drawn from a generator seeded per (seed, image, view). The colour views
  teach the heads that style is not palette alone;
- kind "<probe>": each probe (grayscale, hue) of every test image, for evaluate's probes;
- kind "ood": the generated out-of-distribution pictures (data.ood, seed data.ood.SEED, id = their name),
  prepared as preprocess prepares a file, for the models' novelty check;
and backbone.json: the backbone, its weights and their fingerprint, and how the images were prepared
(image_size, resize). Arrays stay memory-mapped; readers take the rows they need.
"""
import glob
import itertools
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from artist_style.data import ood
from artist_style.data.images import PROBES, grayscale, hue_rotate
from artist_style.errors import UserError
from artist_style.files import ensure_parent, read_csv, read_json, write_csv, write_json


class Features:
    """Read access to featurize's output: feature rows by image id, kind and pooling."""

    def __init__(self, folder):
        self.folder = folder
        self.index = read_csv(f"{folder}/index.csv", dtype={"id": str, "kind": str})
        self.info = read_json(f"{folder}/backbone.json")
        self.arrays = {}

    @property
    def correlations(self):
        """The style features' correlations setting (0 in folders made before there were any)."""
        return self.info.get("correlations", 0)

    def backbone(self):
        """The backbone these features came from, built again; a UserError if it no longer computes them."""
        from artist_style.models import network
        info = self.info
        model = network.build_backbone(info["backbone"], info["weights"], info["image_size"], info["seed"],
                                       info.get("precision", "float32"))
        if network.fingerprint(model) != info["fingerprint"]:
            raise UserError(f"the {info['backbone']} backbone built now differs from the one featurize used "
                            f"(weights {info['weights']!r} changed?): rerun dvc repro featurize")
        return model

    def array(self, pooling):
        if pooling not in self.arrays:
            self.arrays[pooling] = np.load(f"{self.folder}/{pooling}.npy", mmap_mode="r")
        return self.arrays[pooling]

    def rows(self, ids, kind="original"):
        """(row numbers, their ids): the k rows of `kind` for each id, ids in the given order."""
        rows = self.index[self.index["kind"] == kind].set_index("id")
        missing = [i for i in ids if i not in rows.index]
        if missing:
            raise UserError(f"{len(missing)} image id(s) have no {kind!r} features in {self.folder}, "
                            f"e.g. {missing[0]} (run: dvc repro featurize)")
        picked = rows.loc[list(ids)]
        return picked["row"].to_numpy(), picked.index.to_numpy()


def split_ids(splits_dir, name):
    """Sorted ids in split `name` of any dataset version."""
    files = sorted(glob.glob(f"{splits_dir}/*/{name}.csv"))
    if not files:
        raise UserError(f"no {splits_dir}/*/{name}.csv (run: dvc repro split)")
    return sorted(set().union(*(read_csv(f, dtype={"id": str})["id"] for f in files)))


HUE_RANGE = (30.0, 330.0)  # a hue view's rotation: at least 30 degrees away from the original palette


def view_transform(image_id, view, cfg, seed, size):
    """(affine transform, colour change, hue degrees) of one augmented view, drawn from a generator
    seeded by (seed, id, view)."""
    rng = np.random.default_rng([seed, int(image_id, 16), view])
    scale = rng.uniform(1 - cfg.zoom, 1 + cfg.zoom)
    dx, dy = rng.uniform(-cfg.shift, cfg.shift, size=2) * size
    flip = -1.0 if cfg.flip and rng.random() < 0.5 else 1.0
    degrees = rng.uniform(*HUE_RANGE)
    colour = cfg.view_colours[view % len(cfg.view_colours)] if cfg.view_colours else "none"
    centre = (size - 1) / 2
    # output pixel (x, y) samples input (scale*flip*(x-c) + c + dx, scale*(y-c) + c + dy)
    affine = [scale * flip, 0, centre - scale * flip * centre + dx, 0, scale, centre - scale * centre + dy, 0, 0]
    return affine, colour, degrees


def colour_views(images, draws):
    """The colour change of each view (draws: view_transform results), on uint8 images."""
    colours = np.array([c for _, c, _ in draws])
    images = images.copy()
    if (colours == "grayscale").any():
        images[colours == "grayscale"] = grayscale(images[colours == "grayscale"])
    hue = colours == "hue"
    if hue.any():
        images[hue] = hue_rotate(images[hue], np.array([d for _, _, d in draws])[hue])
    return images


def plan(index, splits_dir, cfg, ood_names=()):
    """The rows to compute: (id, kind, view) in output order, the generated pictures `ood_names` last."""
    rows = [(i, "original", 0) for i in index["id"]]
    if cfg.views:  # training images, then validation images not also training images of a version (a refit uses them)
        train = split_ids(splits_dir, "train")
        val = sorted(set(split_ids(splits_dir, "val")) - set(train))
        rows += [(i, "view", v) for i in [*train, *val] for v in range(cfg.views)]
    for probe in cfg.probes:
        rows += [(i, probe, 0) for i in split_ids(splits_dir, "test")]
    rows += [(name, "ood", 0) for name in ood_names]
    return pd.DataFrame(rows, columns=["id", "kind", "view"])


def batches(table, processed, cfg, seed):
    """Yield float32 image batches for the rows of `table`, in order."""
    from keras import ops
    pixels = processed.pixels
    size = pixels.shape[1]
    source_rows = processed.rows(table["id"])
    for start in range(0, len(table), cfg.batch_size):
        part = table.iloc[start:start + cfg.batch_size]
        images = np.asarray(pixels[source_rows[start:start + len(part)]])
        kinds = part["kind"].to_numpy()
        for probe in cfg.probes:
            mask = kinds == probe
            if mask.any():
                images[mask] = PROBES[probe](images[mask], cfg.hue_degrees)
        mask = kinds == "view"
        draws = [view_transform(r.id, r.view, cfg, seed, size) for r in part[mask].itertuples()]
        if draws:
            images[mask] = colour_views(images[mask], draws)
        images = images.astype(np.float32)
        if draws:
            transforms = np.array([affine for affine, _, _ in draws], dtype=np.float32)
            images[mask] = ops.convert_to_numpy(ops.image.affine_transform(
                images[mask], transforms, interpolation="bilinear", fill_mode="nearest"))
        yield images


def prefetched(items):
    """The items of an iterator, each next one prepared in a thread while the caller uses the current."""
    with ThreadPoolExecutor(1) as pool:
        upcoming = pool.submit(next, items, None)
        while (item := upcoming.result()) is not None:
            upcoming = pool.submit(next, items, None)
            yield item


def featurize(processed, splits_dir, out, cfg, seed):
    """Run the frozen backbone of `cfg` (config.Featurize) over every row of `plan`, into the folder `out`.
    Returns (rows written, seconds, {kind: count})."""
    from tqdm import tqdm

    from artist_style.models import network

    Path(f"{out}/backbone.json").unlink(missing_ok=True)  # written last: without it the folder is incomplete
    precision, note = network.resolve_precision(cfg.precision)
    if note:
        print(note)
    backbone = network.build_backbone(cfg.backbone, cfg.weights, processed.pixels.shape[1], seed, precision)
    featurizer = network.build_featurizer(cfg.backbone, backbone, cfg.correlations)
    ood_names, ood_images = ood.images(processed.pixels.shape[1], processed.meta["resize"], ood.SEED)
    table = plan(processed.index, splits_dir, cfg, ood_names)
    dims = {k: v.shape[-1] for k, v in featurizer.output.items()}
    arrays = {k: np.lib.format.open_memmap(ensure_parent(f"{out}/{k}.npy"), mode="w+", dtype=np.float32,
                                           shape=(len(table), d)) for k, d in dims.items()}
    start, row = time.time(), 0
    bar = tqdm(total=len(table), desc="featurize", unit="img", disable=False, mininterval=2.0)
    made = prefetched(batches(table[table["kind"] != "ood"], processed, cfg, seed))
    for images in itertools.chain(made, [ood_images.astype(np.float32)]):
        result = featurizer.predict_on_batch(images)
        for k in arrays:
            arrays[k][row:row + len(images)] = result[k]
        row += len(images)
        bar.update(len(images))
    bar.close()
    for array in arrays.values():
        array.flush()
    seconds = time.time() - start
    write_csv(f"{out}/index.csv", table.assign(row=range(len(table))))
    write_json(f"{out}/backbone.json", {
        "backbone": cfg.backbone, "weights": cfg.weights, "seed": seed, "precision": precision, **processed.meta,
        "views": cfg.views, "view_colours": list(cfg.view_colours), "probes": list(cfg.probes),
        "hue_degrees": cfg.hue_degrees, "correlations": cfg.correlations,
        "fingerprint": network.fingerprint(backbone), "dims": dims})
    return len(table), seconds, table["kind"].value_counts().to_dict()
