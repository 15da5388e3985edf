"""A model's card: the small files beside a saved model, in one place.

For models/refined.keras (or models/baseline.weights.json) they are:
- models/refined.json: how the model was made and how images must be prepared for it (written by training);
- models/refined.threshold.json: the decision threshold chosen on validation (written by the model's stage,
  evaluation.per_model; by evaluate for the combined model);
- models/refined.novelty.npz: the novelty score's training features and threshold (written by training;
  Keras models only: models.novelty);
- models/refined.validation.csv: the validation images' probabilities from a head that did not learn on them,
  what the threshold and the combined model are fitted on (written by training; Keras models only: the
  first fit's when the head is refit on train + val, models.heads).
"""
from pathlib import Path

import pandas as pd

from artist_style.errors import UserError
from artist_style.files import read_csv, read_json, write_csv, write_json
from artist_style.models.novelty import Novelty

MODEL_SUFFIXES = (".keras", ".weights.json", ".stack.json")  # a Keras model, the classical baseline, the combined model


def card_files(path):
    """The card's files when `path` names a model (one of MODEL_SUFFIXES), else none."""
    return ModelCard(path).files() if str(path).endswith(MODEL_SUFFIXES) else []


class ModelCard:
    def __init__(self, model_path):
        self.model_path = str(model_path)
        stem = next((self.model_path.removesuffix(s) for s in MODEL_SUFFIXES if self.model_path.endswith(s)),
                    self.model_path)
        self.name = Path(stem).name
        self.meta_path = f"{stem}.json"
        self.threshold_path = f"{stem}.threshold.json"
        self.novelty_path = f"{stem}.novelty.npz"
        self.validation_path = f"{stem}.validation.csv"

    def files(self):
        """Every file of the card (the model's sidecars), whether written yet or not."""
        return [self.meta_path, self.threshold_path, self.novelty_path, self.validation_path]

    def meta(self):
        return read_json(self.meta_path)

    def save_meta(self, meta):
        write_json(self.meta_path, meta)

    def threshold(self):
        """(threshold, where it came from): the chosen one, or 0.5 when evaluate has not run."""
        if not Path(self.threshold_path).exists():
            return 0.5, "default 0.5 (no threshold file: run dvc repro)"
        saved = read_json(self.threshold_path)
        value = saved.get("threshold") if isinstance(saved, dict) else None
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
            raise UserError(f"{self.threshold_path}: threshold {value!r} is not a number from 0 to 1 "
                            "(the model's stage writes it: dvc repro)")
        return float(value), self.threshold_path

    def save_threshold(self, info):
        write_json(self.threshold_path, info)

    def novelty(self):
        """The model's Novelty, or None when it has none (the baseline, or a model trained before it existed)."""
        return Novelty.load(self.novelty_path) if Path(self.novelty_path).exists() else None

    def save_novelty(self, novelty):
        novelty.save(self.novelty_path)

    def validation(self):
        """The held-out validation probabilities (a Series by image id), or None when there are none (a model
        that is not a Keras head, or one trained before they were saved)."""
        if not Path(self.validation_path).exists():
            return None
        table = read_csv(self.validation_path, "a model's validation probabilities", dtype={"id": str})
        return pd.Series(table["probability"].astype(float).to_numpy(), index=table["id"].to_numpy())

    def save_validation(self, probabilities):
        table = pd.DataFrame({"id": probabilities.index, "probability": probabilities.to_numpy()})
        write_csv(self.validation_path, table)
