"""The models evaluate compares, behind one interface: `.name`, `.meta` (models/<name>.json, whose
"version" names the validation split for the threshold), `.cached` and `.predict(ids, kind)`, the
probability of the target artist for image ids, kind = "original" or a probe name (stages.images.PROBES).
"""
import numpy as np

from stages import network
from stages.common import UserError, read_json
from stages.images import PROBES
from stages.preprocess import rows_for

KERAS = ("base", "refined")
CHUNK = 4096
BASELINE = "baseline"
ALL = (*KERAS, BASELINE)


def images(processed, ids, kind, hue_degrees):
    """uint8 pixels of the processed images `ids`, through the probe `kind` unless it is "original"."""
    index, pixels, _ = processed
    batch = np.asarray(pixels[rows_for(index, ids)])
    return batch if kind == "original" else PROBES[kind](batch, hue_degrees)


class KerasModel:
    """An exported Keras model; its head runs on cached backbone features when the backbone matches them."""

    def __init__(self, name, features, processed, models_dir="models"):
        self.name = name
        self.meta = read_json(f"{models_dir}/{name}.json")
        self.model = network.load_model(f"{models_dir}/{name}.keras")
        self.features, self.processed = features, processed
        self.cached = network.fingerprint(self.model.get_layer("backbone")) == features.info["fingerprint"]
        self.head = self.model.get_layer("head")

    def predict(self, ids, kind="original"):
        if not self.cached:
            return self.end_to_end(ids, kind)
        rows, _ = self.features.rows(ids, kind)
        array = self.features.array(self.meta["pooling"])
        parts = [self.head.predict(np.asarray(array[rows[i:i + CHUNK]]), batch_size=256, verbose=0).ravel()
                 for i in range(0, len(rows), CHUNK)]  # in chunks: memory stays flat for big test sets
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def end_to_end(self, ids, kind="original"):
        batch = images(self.processed, ids, kind, self.features.info["hue_degrees"])
        return self.model.predict(batch, batch_size=16, verbose=0).ravel()


class BaselineModel:
    """The classical baseline (models/baseline.joblib): features computed from the pixels every time."""

    cached = False  # nothing cached: every prediction is end to end

    def __init__(self, name, features, processed, models_dir="models"):
        import joblib
        self.name = name
        self.meta = read_json(f"{models_dir}/{name}.json")
        path = f"{models_dir}/{name}.joblib"
        try:
            self.model = joblib.load(path)
        except FileNotFoundError:
            raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")
        self.processed, self.hue_degrees = processed, features.info["hue_degrees"]
        self.cache = {}

    def predict(self, ids, kind="original"):
        """Remembers each (kind, id): the v1 test images are also v2 test images."""
        known = self.cache.setdefault(kind, {})
        todo = [i for i in dict.fromkeys(ids) if i not in known]
        if todo:
            batch = images(self.processed, todo, kind, self.hue_degrees)
            known.update(zip(todo, self.model.predict_proba(batch)[:, 1]))
        return np.array([known[i] for i in ids])

    end_to_end = predict


def load(name, features, processed, models_dir="models"):
    """The model `name` (one of ALL)."""
    kind = BaselineModel if name == BASELINE else KerasModel
    return kind(name, features, processed, models_dir)
