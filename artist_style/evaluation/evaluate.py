"""Evaluate: every model on the same test sets, predictions matched to labels by image id.

The models (models.registry): base and refined (Keras) and the classical baseline, which computes
its features from the processed pixels (and their probes) every time. For each exported Keras model
the prediction of an image is the model's own head applied to the cached backbone features of that
image, which is exactly the end-to-end model when the model's backbone has the fingerprint of the
cached features (checked here); `evaluate.e2e_check` test images are also run end to end through
the saved model and must agree. A model whose backbone differs is run end to end on every image.
Nothing is shuffled; labels come from the split files by id.

A model with a novelty (models.novelty: the Keras models) also says which images it would call
unknown: the share of each test set and probe, of its validation split, and of the generated
out-of-distribution pictures (data.ood), which no illustration resembles.

Writes the metrics JSON, a plots folder (predictions.csv, ood.csv, dvclive confusion/ROC/PR data, PNGs)
and each model's threshold file (models.card: the threshold chosen on the model's validation split).
"""
from pathlib import Path

import numpy as np
import pandas as pd

from artist_style.data import ood
from artist_style.data.features import Features
from artist_style.data.processed import open_processed
from artist_style.errors import UserError
from artist_style.evaluation import explain, plots
from artist_style.evaluation.scoring import binary_metrics, choose_threshold
from artist_style.files import read_csv, write_csv, write_json
from artist_style.models import registry

E2E_TOLERANCE = 1e-3
DECIMALS = 6  # probabilities are rounded once: predictions.csv and every metric use the same values
SUMMARY = ("accuracy", "f1_macro", "roc_auc")  # what metrics/evaluate.json keeps of each test set and probe
OOD_SEED = 0  # the generated out-of-distribution pictures (the novelty was chosen on seed 1's)


def rounded(probabilities):
    return np.round(np.asarray(probabilities, dtype=np.float64), DECIMALS)


def summary(results):
    """The numbers people compare across experiments: per model its threshold and, per test set and
    probe, SUMMARY; for a model with a novelty, the share of the generated pictures and of the last
    test set's images it calls unknown. The rest (per-class scores, confusion counts, n, the
    end-to-end check, the other unknown shares) is in details."""
    out = {}
    for model, result in results.items():
        out[model] = {"threshold": result["threshold"]}
        sets = sorted(key for key, value in result.items() if isinstance(value, dict))
        for key in sets:
            out[model][key] = {probe: {k: m[k] for k in SUMMARY} for probe, m in result[key].items()}
        if "unknown_ood" in result:
            out[model]["unknown_ood"] = result["unknown_ood"]
            out[model][f"unknown_{sets[-1]}"] = result[sets[-1]]["original"]["unknown"]
    return out


def load_test_sets(splits_dir, versions):
    """{f"{v}_test": test table sorted by id} for each version."""
    return {f"{v}_test": read_csv(f"{splits_dir}/{v}/test.csv", dtype={"id": str}).sort_values("id")
            for v in versions}


def evaluate_model(model, sets, splits_dir, rule, probes):
    """(metrics, predictions table, threshold info) of one model on every test set and probe."""
    val = read_csv(f"{splits_dir}/{model.meta['version']}/val.csv", dtype={"id": str})
    threshold, val_score = choose_threshold(val["label"], rounded(model.validation(val["id"])), rule)
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
    return result, pd.concat(rows), info


def share(flags):
    return round(float(np.mean(flags)), 6) if len(flags) else float("nan")


def evaluate_ood(model):
    """(unknown share and the pictures missed, table) of the generated out-of-distribution pictures,
    prepared at the model's size and resize mode and run end to end through the saved model."""
    names, batch = ood.images(model.meta["image_size"], model.meta["resize"], OOD_SEED)
    probs, pooled = model.run(batch)
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


def write_plots(predictions, thresholds, loaded, processed, out, gallery):
    """dvclive confusion/ROC/PR data for dvc plots, and the PNGs; predicted labels use each model's
    threshold, as the metrics do."""
    from dvclive import Live
    original = predictions[predictions["probe"] == "original"]
    with Live(out, dvcyaml=False, save_dvc_exp=False) as live:
        for (name, set_name), part in original.groupby(["model", "test_set"], sort=True):
            y, p = part["label"].to_numpy(), part["probability"].to_numpy(dtype=float)
            t = thresholds[name]["threshold"]
            predicted = (p >= t).astype(int)
            names = np.array(plots.CLASS_NAMES)
            live.log_sklearn_plot("confusion_matrix", names[y], names[predicted],
                                  name=f"confusion/{name}_{set_name}.json")
            live.log_sklearn_plot("roc", y, p, name=f"roc/{name}_{set_name}.json")
            live.log_sklearn_plot("precision_recall", y, p, name=f"pr/{name}_{set_name}.json")
            plots.confusion_png(f"{out}/confusion_{name}_{set_name}.png", y, predicted,
                                   f"{name} on {set_name} (n={len(y)}, threshold {t:.2f})")
    Path(out, "metrics.json").unlink(missing_ok=True)  # dvclive's empty summary: the metrics are elsewhere
    for set_name, part in original.groupby("test_set", sort=True):
        curves = [(name, m["label"].to_numpy(), m["probability"].to_numpy()) for name, m in part.groupby("model")]
        plots.curves_png(f"{out}/roc_{set_name}.png", curves, "roc", f"ROC, {set_name}")
        plots.curves_png(f"{out}/pr_{set_name}.png", curves, "pr", f"precision-recall, {set_name}")
    last_set = sorted(original["test_set"].unique())[-1]
    for name in (n for n, m in loaded.items() if isinstance(m, registry.KerasModel)):  # Grad-CAM: the network
        part = original[(original["test_set"] == last_set) & (original["model"] == name)].sort_values("id")
        wrong = (part["probability"] >= thresholds[name]["threshold"]) != part["label"].astype(bool)
        picked = pd.concat([part[wrong].head(4), part[~wrong].head(8 - min(4, int(wrong.sum())))])
        explain.examples_png(f"{out}/explain_{name}.png", loaded[name].model,
                             registry.images(processed, picked["id"], "original", 0), picked["label"].to_numpy(),
                             thresholds[name]["threshold"],
                             f"{name} on {last_set}: Grad-CAM, regions pushing towards the target artist")
    for name, part in original[original["test_set"] == last_set].groupby("model"):
        t = thresholds[name]["threshold"]
        part = part.assign(wrong=(part["probability"] >= t) != part["label"].astype(bool))
        part = part.sort_values(["wrong", "id"], ascending=[False, True]).head(gallery)
        if len(part):
            plots.gallery_png(f"{out}/gallery_{name}.png", registry.images(processed, part["id"], "original", 0),
                                 part["label"].to_numpy(), part["probability"].to_numpy(), t,
                                 f"{name} on {last_set}: mistakes first (red), threshold {t:.2f}")


def combined_model(path, loaded, cfg, splits_dir, seed):
    """Fit the combined model of the loaded models named in cfg.combine on their version's validation split."""
    missing = [m for m in cfg.combine if m not in loaded]
    if missing:
        raise UserError(f"evaluate.combine names {', '.join(missing)}, which is not among the evaluated models "
                        f"({', '.join(loaded)})")
    members = [loaded[m] for m in cfg.combine]
    versions = {m.meta["version"] for m in members}
    if len(versions) > 1:
        raise UserError(f"evaluate.combine: {', '.join(cfg.combine)} were trained on different versions "
                        f"({', '.join(sorted(versions))}); the combined model needs one validation split")
    val = read_csv(f"{splits_dir}/{versions.pop()}/val.csv", dtype={"id": str})
    return registry.CombinedModel.fit(path, members, val, seed)


def evaluate(model_paths, features_dir, processed_dir, splits_dir, cfg, metrics_path, plots_dir,
             combined_path=None, seed=0):
    """Evaluate every model in `model_paths` per `cfg` (config.Evaluate), and the combined model of
    cfg.combine (saved to `combined_path`); writes the metrics, the plots and each model's threshold;
    returns one line per model."""
    features = Features(features_dir)
    processed = open_processed(processed_dir)
    sets = load_test_sets(splits_dir, cfg.test_sets)
    probes = features.info["probes"]
    largest = max(sets.values(), key=len)["id"].to_numpy()
    results, predictions, thresholds, loaded, lines, ood_tables = {}, [], {}, {}, [], []
    models = [registry.load(path, features, processed) for path in model_paths]
    if combined_path and cfg.combine:
        models.append(combined_model(combined_path, {m.name: m for m in models}, cfg, splits_dir, seed))
    for model in models:
        name, path = model.name, model.card.model_path
        if name in loaded:
            raise UserError(f"{path}: two models named {name!r}")
        loaded[name] = model
        results[name], table, thresholds[name] = evaluate_model(model, sets, splits_dir, cfg.threshold_rule, probes)
        check_ids = largest[:cfg.e2e_check]
        results[name]["e2e_max_abs_diff"] = round(end_to_end_check(model, check_ids), 6)
        results[name]["e2e_checked"] = int(len(check_ids)) if model.cached else "all"
        model.card.save_threshold(thresholds[name])
        predictions.append(table)
        line = f"{name}: " + ", ".join(f"{s} accuracy {results[name][s]['original']['accuracy']:.3f}"
                                       for s in sets) + f", threshold {thresholds[name]['threshold']:.3f}"
        if model.novelty is not None:
            found, ood_table = evaluate_ood(model)
            results[name] |= found
            ood_tables.append(ood_table)
            line += (f"; unknown: {found['unknown_ood']:.3f} of {found['ood_n']} generated pictures, "
                     + ", ".join(f"{results[name][s]['original']['unknown']:.3f} of {s}" for s in sets))
        lines.append(line)
    predictions = pd.concat(predictions)
    write_csv(f"{plots_dir}/predictions.csv", predictions)
    if ood_tables:
        write_csv(f"{plots_dir}/ood.csv", pd.concat(ood_tables))
    write_plots(predictions, thresholds, loaded, processed, plots_dir, cfg.gallery)
    write_json(f"{plots_dir}/details.json", results)
    write_json(metrics_path, summary(results))
    return lines
