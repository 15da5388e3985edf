"""Read access to featurize's output (data/features): feature rows by image id, kind and pooling.

Arrays stay memory-mapped; callers take the rows they need, in batches when they are many.
"""
import numpy as np

from stages.common import UserError, read_csv, read_json


class Features:
    """Read access to featurize's output: feature rows by image id, kind and pooling."""

    def __init__(self, folder="data/features"):
        self.folder = folder
        self.index = read_csv(f"{folder}/index.csv", dtype={"id": str, "kind": str})
        self.info = read_json(f"{folder}/backbone.json")
        self.arrays = {}

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

    def get(self, ids, pooling, kind="original"):
        """(len(ids) * k, dim) features in memory and their ids (see rows)."""
        rows, ids = self.rows(ids, kind)
        return np.asarray(self.array(pooling)[rows]), ids
