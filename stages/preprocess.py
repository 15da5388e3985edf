"""preprocess: every unique image decoded once, made RGB and resized, stored as uint8.

Writes data/processed/images.npy, an (N, size, size, 3) uint8 array written row by row through a
memory map (so memory does not grow with N), data/processed/index.csv (id, row) and
data/processed/meta.json (image_size, resize: how later users of a model must prepare images).
"""
import argparse

import numpy as np
import pandas as pd

from stages import params, sources
from stages.common import UserError, ensure_parent, parallel_map, read_csv, read_json, run, write_csv, write_json
from stages.images import Rejected, prepare


def load(task):
    """One image as the pipeline sees it (runs in a worker process)."""
    path, member, size, mode = task
    return prepare(sources.read(path, member), size, mode)


def open_processed(folder="data/processed"):
    """(index table, read-only memory-mapped uint8 array, meta) of the preprocess stage's output."""
    index = read_csv(f"{folder}/index.csv", dtype={"id": str})
    try:
        pixels = np.load(f"{folder}/images.npy", mmap_mode="r")
    except FileNotFoundError:
        raise UserError(f"{folder}/images.npy: not found (run: dvc repro preprocess)")
    return index, pixels, read_json(f"{folder}/meta.json")


def rows_for(index, ids):
    """Row numbers in the processed array for the given image ids, in the given order."""
    position = pd.Series(index["row"].values, index=index["id"].values)
    missing = [i for i in ids if i not in position.index]
    if missing:
        raise UserError(f"{len(missing)} image id(s) not in data/processed, e.g. {missing[0]} (run: dvc repro)")
    return position.loc[list(ids)].to_numpy()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", default="data/interim/images.csv")
    parser.add_argument("--out", default="data/processed")
    args = parser.parse_args()
    cfg = params.load("preprocess")["preprocess"]
    size = cfg["image_size"]
    images = read_csv(args.images, dtype={"id": str})
    tasks = [(r.path, r.member, size, cfg["resize"]) for r in images.itertuples()]
    out = np.lib.format.open_memmap(ensure_parent(f"{args.out}/images.npy"), mode="w+",
                                    dtype=np.uint8, shape=(len(tasks), size, size, 3))
    try:
        for row, pixels in enumerate(parallel_map(load, tasks, cfg["workers"], desc="preprocess")):
            out[row] = pixels
    except Rejected as err:
        raise UserError(f"an image that ingest accepted no longer decodes ({err}): rerun dvc repro")
    out.flush()
    del out
    write_csv(f"{args.out}/index.csv", pd.DataFrame({"id": images["id"], "row": range(len(images))}))
    write_json(f"{args.out}/meta.json", {"image_size": size, "resize": cfg["resize"]})
    print(f"preprocess: {len(images)} images at {size}x{size} ({cfg['resize']}) in {args.out}")


if __name__ == "__main__":
    run(main)
