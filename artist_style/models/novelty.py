"""Novelty: how unlike the training images a picture is, in its backbone's style statistics.

A head answers "target" or "other" for anything, a blank square included. The novelty score lets a
model say "unknown" instead: the mean Euclidean distance from the picture's style features (POOLING:
the refined head's input; the base head reads block 5's averages, on which ImageNet's VGG19 finds a
white square ordinary) to those of its `neighbours` nearest training images (the originals of the
model's training split), after a signed log, sign(x) * log(1 + |x|). The log puts every channel on a
ratio scale: without it the few channels that reach hundreds decide every distance, and a flat
picture, whose channels are all near zero, looks ordinary. The threshold is a quantile of held-out
scores: the validation split's, and every training image's against the training images of other
groups (leave one group out, so a near-copy does not make it familiar); above it the picture is
unknown. Measured on validation only: docs/DESIGN.md, "Unknown pictures".

Saved beside the model (models.card) as .npz: the transformed training features, the threshold and
the settings; numpy reads it without pickle.
"""
import io
import zipfile

import numpy as np

from artist_style.errors import UserError
from artist_style.files import atomic, write_zip_entry

POOLING = "style"  # the features a novelty reads, whatever pooling the model's head takes
CHUNK_CELLS = 2**24  # distances computed for at most this many (picture, training image) pairs at once


def signed_log(features):
    features = np.asarray(features, dtype=np.float64)
    return np.sign(features) * np.log1p(np.abs(features))


class Novelty:
    def __init__(self, train, neighbours, threshold, quantile):
        self.train = np.asarray(train, dtype=np.float32)  # signed-log features of the training images
        self.neighbours, self.threshold, self.quantile = int(neighbours), float(threshold), float(quantile)

    @classmethod
    def fit(cls, train_features, val_features, neighbours, quantile, train_groups=None):
        """Novelty of the training features, its threshold the `quantile` of the validation scores and,
        given the training images' groups, of their leave-one-group-out scores too (5 times as many
        held-out scores on the sample: the 99th percentile no longer hangs on one or two images)."""
        novelty = cls(signed_log(train_features), min(neighbours, len(train_features)), 0.0, quantile)
        scores = novelty.score(val_features)
        if train_groups is not None:
            scores = np.concatenate([scores, novelty.held_out(train_groups)])
        novelty.threshold = float(np.quantile(scores, quantile))
        return novelty

    def score(self, features):
        """Mean distance to the nearest training images, one score per row of features."""
        x = signed_log(features)
        if x.ndim != 2 or x.shape[1] != self.train.shape[1]:
            raise UserError(f"novelty: features of width {x.shape[-1]}, but the model's training features have "
                            f"{self.train.shape[1]} (a novelty file of another model?)")
        return self._nearest(x)

    def held_out(self, groups):
        """Each training image's score against the training images of other groups (groups: one per
        training row); images with too few of those are left out."""
        scores = self._nearest(self.train, np.asarray(groups))
        return scores[np.isfinite(scores)]

    def _nearest(self, x, groups=None):
        """score() of signed-log rows x; with groups (x being the training features), each row against
        the training images of other groups only."""
        x = np.asarray(x, dtype=np.float64)
        train = self.train.astype(np.float64)
        squares = np.square(train).sum(axis=1)
        step = max(1, CHUNK_CELLS // len(train))
        out = []
        for start in range(0, len(x), step):
            part = x[start:start + step]
            d2 = np.maximum(np.square(part).sum(axis=1)[:, None] - 2 * part @ train.T + squares[None], 0)
            if groups is not None:
                d2[groups[start:start + step, None] == groups[None]] = np.inf
            nearest = np.partition(d2, self.neighbours - 1, axis=1)[:, :self.neighbours]
            out.append(np.sqrt(nearest).mean(axis=1))
        return np.concatenate(out) if out else np.zeros(0)

    def unknown(self, scores):
        return np.asarray(scores) > self.threshold

    def save(self, path):
        """An .npz written byte for byte the same for the same novelty (np.savez stamps the time)."""
        arrays = {"train": self.train, "neighbours": np.int64(self.neighbours),
                  "threshold": np.float64(self.threshold), "quantile": np.float64(self.quantile)}
        with atomic(path) as temp, zipfile.ZipFile(temp, "w", zipfile.ZIP_DEFLATED) as z:
            for name, array in arrays.items():
                buffer = io.BytesIO()
                np.lib.format.write_array(buffer, np.asarray(array), allow_pickle=False)
                write_zip_entry(z, f"{name}.npy", buffer.getvalue())

    @classmethod
    def load(cls, path):
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(f["train"], f["neighbours"], f["threshold"], f["quantile"])
        except FileNotFoundError:
            raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")
        except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
            raise UserError(f"{path}: not a novelty file: {str(err).splitlines()[0][:200]}")
