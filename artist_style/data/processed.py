"""Processed pixels: every unique image decoded once, made RGB, resized, stored as uint8.

A processed folder holds images.npy, an (N, size, size, 3) uint8 array written row by row through a
memory map (so memory does not grow with N), index.csv (id, row) and meta.json (image_size, resize:
how later users of a model must prepare images). meta.json is written last, and removed first when
the folder is rewritten: a folder without it (a run killed half-way) is refused by `open_processed`.
"""
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from artist_style.data import sources
from artist_style.data.images import Rejected, prepare
from artist_style.errors import UserError
from artist_style.files import atomic, read_csv, read_json, write_csv, write_json
from artist_style.parallel import parallel_map


@dataclass
class Processed:
    """A processed folder, open: index (id, row), pixels (read-only memory map) and meta."""
    index: pd.DataFrame
    pixels: np.ndarray
    meta: dict

    def rows(self, ids):
        """Row numbers in `pixels` for the given image ids, in the given order."""
        position = pd.Series(self.index["row"].values, index=self.index["id"].values)
        missing = [i for i in ids if i not in position.index]
        if missing:
            raise UserError(f"{len(missing)} image id(s) not in the processed images, e.g. {missing[0]} "
                            "(run: dvc repro)")
        return position.loc[list(ids)].to_numpy()

    def images(self, ids):
        """uint8 pixels (n, size, size, 3) of the images `ids`, in memory."""
        return np.asarray(self.pixels[self.rows(ids)])


def open_processed(folder):
    """The Processed images in `folder` (written by `write`), checked complete and consistent."""
    if not os.path.isdir(folder):
        raise UserError(f"{folder}: no such folder (run: dvc repro preprocess)")
    if not os.path.exists(f"{folder}/meta.json"):
        raise UserError(f"{folder}: incomplete (no meta.json: was preprocess interrupted?); run: dvc repro preprocess")
    meta = read_json(f"{folder}/meta.json")
    index = read_csv(f"{folder}/index.csv", dtype={"id": str})
    try:
        pixels = np.load(f"{folder}/images.npy", mmap_mode="r")  # allow_pickle stays False: numbers only
    except FileNotFoundError:
        raise UserError(f"{folder}/images.npy: not found (run: dvc repro preprocess)")
    except ValueError as err:
        raise UserError(f"{folder}/images.npy: not a pixel array: {err}; run: dvc repro preprocess")
    size = meta.get("image_size")
    if pixels.dtype != np.uint8 or pixels.shape[1:] != (size, size, 3) or len(pixels) != len(index):
        raise UserError(f"{folder}: images.npy {pixels.dtype} {pixels.shape} does not match index.csv ({len(index)} "
                        f"rows) and meta.json (image_size {size}); run: dvc repro preprocess")
    return Processed(index, pixels, meta)


def _load(task):
    """One image as the pipeline sees it (runs in a worker process)."""
    path, member, size, mode = task
    return prepare(sources.read(path, member), size, mode)


def write(images, folder, cfg):
    """Prepare every image of the ingest table `images` per `cfg` (config.Preprocess) into `folder`."""
    size = cfg.image_size
    tasks = [(r.path, r.member, size, cfg.resize) for r in images.itertuples()]
    Path(f"{folder}/meta.json").unlink(missing_ok=True)  # the folder is incomplete from now until the end
    with atomic(f"{folder}/images.npy") as temp:
        out = np.lib.format.open_memmap(temp, mode="w+", dtype=np.uint8, shape=(len(tasks), size, size, 3))
        try:
            for row, pixels in enumerate(parallel_map(_load, tasks, cfg.workers, desc="preprocess")):
                out[row] = pixels
        except Rejected as err:
            raise UserError(f"an image that ingest accepted no longer decodes ({err}): rerun dvc repro")
        out.flush()
        del out
    write_csv(f"{folder}/index.csv", pd.DataFrame({"id": images["id"], "row": range(len(images))}))
    write_json(f"{folder}/meta.json", {"image_size": size, "resize": cfg.resize})
