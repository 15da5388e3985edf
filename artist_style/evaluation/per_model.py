"""One model's evaluation, made by the stage that made the model (train_base, train_refined, baseline;
evaluate for the combined model), so that evaluate itself needs no TensorFlow and a head experiment
reruns only its own model's share of the work.

For a model (models.registry interface) it chooses the threshold on the model's validation split
(saved in the model's card), scores every test set and probe with predictions matched to labels by
image id, and, for a Keras model, runs `e2e_check` test images end to end through the saved model
(they must agree with the cached-feature path) and the generated out-of-distribution pictures
(data.ood) through its novelty. Nothing is shuffled; labels come from the split files by id.

Writes a folder (plots/models/<name>/): result.json (threshold and metrics; evaluate's input),
predictions.csv (every test set and probe), validation.csv (the probabilities the threshold was chosen
on, which the combined model is fitted on), ood.csv (Keras models) and the figures gallery.png
(mistakes first) and explain.png (Grad-CAM, Keras models).
"""
import numpy as np
import pandas as pd

from artist_style.errors import UserError
from artist_style.evaluation import explain, plots
from artist_style.evaluation.scoring import binary_metrics, choose_threshold
from artist_style.files import read_csv, read_json, require_dir, write_csv, write_json
from artist_style.models import registry
from artist_style.models.card import ModelCard

E2E_TOLERANCE = 1e-3
DECIMALS = 6  # probabilities are rounded once: predictions.csv and every metric use the same values


def rounded(probabilities):
    return np.round(np.asarray(probabilities, dtype=np.float64), DECIMALS)


def share(flags):
    return round(float(np.mean(flags)), 6) if len(flags) else float("nan")


def test_sets(result):
    """The test-set names of a model's result (the keys whose values are per-probe metrics), sorted."""
    return sorted(key for key, value in result.items() if isinstance(value, dict))


def load_test_sets(splits_dir, versions):
    """{f"{v}_test": test table sorted by id} for each version."""
    return {f"{v}_test": read_csv(f"{splits_dir}/{v}/test.csv", dtype={"id": str}).sort_values("id")
            for v in versions}


def evaluate_model(model, sets, splits_dir, rule, probes):
    """(metrics, predictions table, threshold info, validation table) of one model on every test set and probe."""
    val = read_csv(f"{splits_dir}/{model.meta['version']}/val.csv", dtype={"id": str}).sort_values("id")
    val_probs = rounded(model.validation(val["id"]))
    threshold, val_score = choose_threshold(val["label"], val_probs, rule)
    result = {"threshold": round(threshold, 6)}
    novelty = model.novelty
    if novelty is not None:
        result |= {"novelty_threshold": round(novelty.threshold, 4),
                   "unknown_val": share(novelty.unknown(model.novelty_scores(val["id"].to_numpy())))}
    rows = []
    for set_name, table in sets.items():
        result[set_name] = {}
        for kind in ("original", *probes):
            probs = rounded(model.predict(table["id"], kind))
            labels = table["label"].to_numpy()
            result[set_name][kind] = binary_metrics(labels, probs, threshold)
            scores = np.full(len(table), np.nan)
            if novelty is not None:
                scores = model.novelty_scores(table["id"].to_numpy(), kind)
                result[set_name][kind]["unknown"] = share(novelty.unknown(scores))
            rows.append(pd.DataFrame({"model": model.name, "test_set": set_name, "probe": kind,
                                      "id": table["id"].to_numpy(), "label": labels, "probability": probs,
                                      "novelty": np.round(scores, 4)}))
    info = {"threshold": threshold, "rule": rule, "val_score": round(val_score, 6),
            "version": model.meta["version"]}
    validation = pd.DataFrame({"id": val["id"].to_numpy(), "label": val["label"].to_numpy(), "probability": val_probs})
    return result, pd.concat(rows), info, validation


def evaluate_ood(model):
    """(unknown share and the pictures missed, table) of the generated out-of-distribution pictures
    (data.ood), prepared at the model's size and resize mode."""
    names, probs, pooled = model.generated()
    scores = model.novelty.score(pooled)
    unknown = model.novelty.unknown(scores)
    table = pd.DataFrame({"model": model.name, "picture": names, "probability": rounded(probs),
                          "novelty": np.round(scores, 4), "unknown": unknown})
    missed = [n for n, flagged in zip(names, unknown) if not flagged]
    return {"unknown_ood": share(unknown), "ood_n": len(names), "ood_missed": missed}, table


def end_to_end_check(model, ids):
    """Largest |difference| between the saved model run end to end and the cached-feature path."""
    if not len(ids) or not model.cached:
        return 0.0
    diff = float(np.max(np.abs(model.end_to_end(ids) - model.predict(ids))))
    if diff > E2E_TOLERANCE:
        raise UserError(f"models/{model.name}.keras end to end differs from its cached-feature predictions by "
                        f"{diff:.2g} (> {E2E_TOLERANCE}): the cached features are stale, rerun dvc repro -f featurize")
    return diff


def figures(out, model, predictions, threshold, processed, gallery):
    """gallery.png (the last test set, mistakes first) and, for a network, explain.png (Grad-CAM)."""
    original = predictions[predictions["probe"] == "original"]
    last_set = sorted(original["test_set"].unique())[-1]
    part = original[original["test_set"] == last_set].sort_values("id")
    part = part.assign(wrong=(part["probability"] >= threshold) != part["label"].astype(bool))
    if isinstance(model, registry.KerasModel):
        wrong = part["wrong"]
        picked = pd.concat([part[wrong].head(4), part[~wrong].head(8 - min(4, int(wrong.sum())))])
        explain.examples_png(f"{out}/explain.png", model.model, registry.images(processed, picked["id"], "original", 0),
                             picked["label"].to_numpy(), threshold,
                             f"{model.name} on {last_set}: Grad-CAM, regions pushing towards the target artist")
    shown = part.sort_values(["wrong", "id"], ascending=[False, True]).head(gallery)
    if len(shown):
        plots.gallery_png(f"{out}/gallery.png", registry.images(processed, shown["id"], "original", 0),
                          shown["label"].to_numpy(), shown["probability"].to_numpy(), threshold,
                          f"{model.name} on {last_set}: mistakes first (red), threshold {threshold:.2f}")


def evaluate_to(out, model, splits_dir, cfg, probes, processed):
    """Evaluate `model` per `cfg` (config.Evaluate) on the probes `probes`; save its threshold in its card and
    write the folder `out`. Returns a one-line summary."""
    sets = load_test_sets(splits_dir, cfg.test_sets)
    result, predictions, info, validation = evaluate_model(model, sets, splits_dir, cfg.threshold_rule, probes)
    check_ids = max(sets.values(), key=len)["id"].to_numpy()[:cfg.e2e_check]
    result["e2e_max_abs_diff"] = round(end_to_end_check(model, check_ids), 6)
    result["e2e_checked"] = int(len(check_ids)) if model.cached else "all"
    model.card.save_threshold(info)
    line = f"{model.name}: " + ", ".join(f"{s} accuracy {result[s]['original']['accuracy']:.3f}" for s in sets) + (
        f", threshold {info['threshold']:.3f}")
    if model.novelty is not None:
        found, ood_table = evaluate_ood(model)
        result |= found
        write_csv(f"{out}/ood.csv", ood_table)
        line += (f"; unknown: {found['unknown_ood']:.3f} of {found['ood_n']} generated pictures, "
                 + ", ".join(f"{result[s]['original']['unknown']:.3f} of {s}" for s in sets))
    write_json(f"{out}/result.json", {"model": model.name, "model_path": model.card.model_path,
                                      "version": model.meta["version"], **result})
    write_csv(f"{out}/predictions.csv", predictions)
    write_csv(f"{out}/validation.csv", validation)
    figures(out, model, predictions, info["threshold"], processed, cfg.gallery)
    return line


class Evaluated:
    """A model as its evaluation folder describes it: its probabilities looked up by image id (the
    models.registry interface for the combined model, which stacks them), its result and its card."""

    cached = False
    novelty = None

    def __init__(self, folder):
        require_dir(folder, "a model's evaluation (made by its stage: dvc repro)")
        self.folder = str(folder)
        self.result = read_json(f"{folder}/result.json")
        self.name, path = self.result.pop("model"), self.result.pop("model_path")
        self.predictions = read_csv(f"{folder}/predictions.csv", dtype={"id": str})
        self.by_probe = {probe: table.drop_duplicates("id").set_index("id")["probability"]  # v1 test is in v2 test
                         for probe, table in self.predictions.groupby("probe")}
        self.validation_table = read_csv(f"{folder}/validation.csv", dtype={"id": str}).set_index("id")
        self.ood = read_csv(f"{folder}/ood.csv") if self.result.get("ood_n") else None
        self.card = ModelCard(path)
        self.meta = {"version": self.result["version"]}
        self.threshold = self.result["threshold"]

    def predict(self, ids, kind="original"):
        known = self.by_probe.get(kind, pd.Series(dtype=np.float64))
        missing = [i for i in ids if i not in known.index]
        if missing:
            raise UserError(f"{self.folder}/predictions.csv: no {kind} prediction for image {missing[0]} "
                            f"(and {len(missing) - 1} more): rerun dvc repro")
        return known.loc[list(ids)].to_numpy(dtype=np.float64)

    def validation(self, ids):
        return self.validation_table.loc[list(ids), "probability"].to_numpy(dtype=np.float64)
