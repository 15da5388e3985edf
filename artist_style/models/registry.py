"""The models evaluation.per_model evaluates, behind one interface: `.name`, `.card`, `.meta` (the card's JSON, whose
"version" names the validation split for the threshold), `.cached` and `.predict(ids, kind)`, the
probability of the target artist for image ids, kind = "original" or a probe name (data.images.PROBES);
`.validation(ids)`, the probabilities evaluate chooses the threshold on (`predict`, except for a model
fitted on the validation split itself). `.novelty` is the model's models.novelty.Novelty, or None (the
baseline, the combined model); a model that has one also scores images by id (`.novelty_scores(ids,
kind)`), scores the generated pictures of data.ood (`.generated()`) and runs pixels end to end
(`.run(images)`).
"""
import numpy as np

from artist_style.data import ood
from artist_style.data.images import PROBES
from artist_style.errors import UserError
from artist_style.models import classical, stack
from artist_style.models.card import ModelCard
from artist_style.models.novelty import POOLING as NOVELTY_POOLING

CHUNK = 4096


def images(processed, ids, kind, hue_degrees):
    """uint8 pixels of the processed images `ids`, through the probe `kind` unless it is "original"."""
    batch = processed.images(ids)
    return batch if kind == "original" else PROBES[kind](batch, hue_degrees)


def remembered(cache, ids, kind, compute):
    """Values of `ids` for probe `kind`, calling compute(ids) only for those not yet in cache[kind] (each once,
    in first-seen order): the v1 test images are also v2 test images."""
    known = cache.setdefault(kind, {})
    todo = [i for i in dict.fromkeys(ids) if i not in known]
    if todo:
        known.update(zip(todo, compute(todo)))
    return np.array([known[i] for i in ids])


def run_in_batches(model, images, batch_size=16):
    """A Keras model's outputs (a list, one array per output) on `images`, batch_size images at a time.
    Through predict_on_batch: predict() sets up a data pipeline that cost ~0.9 s more on its first call."""
    parts = [model.predict_on_batch(images[i:i + batch_size]) for i in range(0, len(images), batch_size)]
    parts = [part if isinstance(part, (list, tuple)) else [part] for part in parts]
    return [np.concatenate([np.asarray(part[k]) for part in parts]) for k in range(len(parts[0]))]


class KerasModel:
    """An exported Keras model; its head runs on cached backbone features when the backbone matches them."""

    def __init__(self, path, features, processed):
        from artist_style.models import network  # TensorFlow: only where a network is loaded
        self.card = ModelCard(path)
        self.name, self.meta = self.card.name, self.card.meta()
        self.model = network.load_model(path)
        self.features, self.processed = features, processed
        self.cached = network.fingerprint(self.model.get_layer("backbone")) == features.info["fingerprint"]
        self.head = self.model.get_layer("head")
        self.novelty = self.card.novelty()
        self.two_outputs = network.with_features(self.model, self.meta)

    def pooled(self, ids, kind="original", pooling=None):
        """The cached pooled features of image ids: the head's input, or those of `pooling`."""
        rows, _ = self.features.rows(ids, kind)
        return np.asarray(self.features.array(pooling or self.meta["pooling"])[rows])

    def predict(self, ids, kind="original"):
        if not self.cached:
            return self.end_to_end(ids, kind)
        ids = list(ids)
        parts = [np.asarray(self.head(self.pooled(ids[i:i + CHUNK], kind), training=False)).ravel()
                 for i in range(0, len(ids), CHUNK)]  # called directly (predict() costs ~0.1 s a call), in chunks
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.float32)

    def validation(self, ids):
        held_out = self.card.validation()
        if held_out is None:
            return self.predict(ids)
        missing = [i for i in ids if i not in held_out.index]
        if missing:
            raise UserError(f"{self.card.validation_path}: no probability for validation image {missing[0]} "
                            f"(and {len(missing) - 1} more): rerun dvc repro")
        return held_out.loc[list(ids)].to_numpy(dtype=np.float64)

    def end_to_end(self, ids, kind="original"):
        return self.run(images(self.processed, ids, kind, self.features.info["hue_degrees"]))[0]

    def run(self, batch):
        """(probabilities, the novelty's features) of uint8 images, end to end through the saved model."""
        probs, pooled = run_in_batches(self.two_outputs, batch)
        return probs.ravel(), pooled

    def generated(self):
        """(names, probabilities, the novelty's features) of the generated pictures (data.ood, seed
        data.ood.SEED): from featurize's "ood" rows when cached, else end to end."""
        if self.cached:
            names = list(self.features.index.loc[self.features.index["kind"] == "ood", "id"])
            probs = np.asarray(self.head(self.pooled(names, "ood"), training=False)).ravel()
            return names, probs, self.pooled(names, "ood", NOVELTY_POOLING)
        names, batch = ood.images(self.meta["image_size"], self.meta["resize"], ood.SEED)
        return (names, *self.run(batch))

    def novelty_scores(self, ids, kind="original"):
        """Novelty of image ids: from the cached style features, or end to end."""
        parts = []
        for i in range(0, len(ids), CHUNK):
            part = list(ids[i:i + CHUNK])
            if self.cached:
                pooled = self.pooled(part, kind, NOVELTY_POOLING)
            else:
                pooled = self.run(images(self.processed, part, kind, self.features.info["hue_degrees"]))[1]
            parts.append(self.novelty.score(pooled))
        return np.concatenate(parts) if parts else np.zeros(0)


class BaselineModel:
    """The classical baseline: features computed from the pixels every time."""

    cached = False  # nothing cached: every prediction is end to end
    novelty = None  # its features are not a network's: no novelty score

    def __init__(self, path, processed, hue_degrees):
        self.card = ModelCard(path)
        self.name, self.meta = self.card.name, self.card.meta()
        self.model = classical.load(path)
        self.processed, self.hue_degrees = processed, hue_degrees
        self.cache = {}

    def predict(self, ids, kind="original"):
        return remembered(self.cache, ids, kind, lambda todo: self.model.predict_proba(
            images(self.processed, todo, kind, self.hue_degrees))[:, 1])

    end_to_end = validation = predict


class CombinedModel:
    """The members' probabilities stacked (models.stack). `validation(ids)` gives the out-of-fold
    probabilities of the validation images the stacker was fitted on, for choosing its threshold."""

    cached = False
    novelty = None  # its inputs are probabilities, not features

    def __init__(self, path, members, fitted, oof):
        self.card = ModelCard(path)
        self.name, self.meta = self.card.name, self.card.meta()
        self.members, self.stack, self.oof = members, fitted, oof

    @classmethod
    def fit(cls, path, members, val, seed):
        """Fit on the members' predictions for the validation table `val` (id, label); save the model and card."""
        probabilities = [m.validation(val["id"]) for m in members]
        fitted, oof = stack.fit([m.card.model_path for m in members], probabilities, val["label"], seed)
        stack.save(fitted, path)
        card = ModelCard(path)
        card.save_meta({"name": card.name, "version": members[0].meta["version"],
                        "members": [m.name for m in members], "coef": fitted.coef.round(6).tolist(),
                        "intercept": round(fitted.intercept, 6), "n_val": len(val),
                        "classifier": "LogisticRegression on the members' logits, fitted on validation (threshold "
                                      f"from {stack.folds(val['label'])}-fold out-of-fold predictions)"})
        return cls(path, members, fitted, dict(zip(val["id"], oof)))

    def predict(self, ids, kind="original"):
        return self.stack.combine(*(m.predict(ids, kind) for m in self.members))

    def validation(self, ids):
        return np.array([self.oof[i] for i in ids])

    end_to_end = predict


def load(path, features, processed):
    """The model saved at `path`: a Keras model (.keras) or the classical baseline (.weights.json)."""
    if str(path).endswith(".keras"):
        return KerasModel(path, features, processed)
    return BaselineModel(path, processed, features.info["hue_degrees"])
