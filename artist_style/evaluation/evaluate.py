"""Evaluate: every model's evaluation side by side, and the combined model.

Each model's own stage evaluated it (evaluation.per_model: threshold on its validation split, every test
set and probe, the end-to-end check, its novelty on generated pictures, its figures) into a folder;
evaluate reads those folders, so it needs no TensorFlow and a head experiment does not redo the other
models' work. It fits the combined model (params.yaml evaluate.combine: models.stack, on the members'
validation probabilities) and evaluates it the same way.

Writes the metrics JSON (summary: the numbers people compare), a plots folder: details.json (every
number, and 95% intervals of the accuracies: add_intervals), predictions.csv and ood.csv of all models,
dvclive confusion/ROC/PR data and the PNGs, and the report (evaluation.report: one markdown table and
chart). Predicted labels use each model's threshold, in the metrics and in every plot.
"""
from pathlib import Path

import numpy as np
import pandas as pd

from artist_style.data.processed import open_processed
from artist_style.errors import UserError
from artist_style.evaluation import per_model, plots, report, scoring
from artist_style.files import read_csv, write_csv, write_json
from artist_style.models import registry

SUMMARY = {"original": ("accuracy", "roc_auc")}  # what metrics/evaluate.json keeps of each test set's images
PROBE_SUMMARY = ("accuracy",)  # and of each probe


def summary(results):
    """The numbers people compare across experiments (about 10 per model, so that `dvc exp show` and
    `dvc metrics diff` stay readable): per model its threshold and, per test set, SUMMARY of the original
    images and PROBE_SUMMARY of each probe; for a model with a novelty, the share of the generated pictures
    and of the last test set's images it calls unknown. The rest (macro F1, per-class scores, confusion
    counts, n, the end-to-end check, the other unknown shares) is in details."""
    out = {}
    for model, result in results.items():
        out[model] = {"threshold": result["threshold"]}
        sets = per_model.test_sets(result)
        for key in sets:
            out[model][key] = {probe: {k: m[k] for k in SUMMARY.get(probe, PROBE_SUMMARY)}
                               for probe, m in result[key].items()}
        if "unknown_ood" in result:
            out[model]["unknown_ood"] = result["unknown_ood"]
            out[model][f"unknown_{sets[-1]}"] = result[sets[-1]]["original"]["unknown"]
    return out


def add_intervals(results, predictions, thresholds, sets, seed, members=()):
    """Into results: each accuracy's 95% interval (`accuracy_95`) and, on the original images, each model's
    difference from the baseline (`minus_baseline_95`) and the combined model's from each of its other
    `members` (`minus_<member>_95`), the test set's groups drawn again (scoring.group_draws, the same
    draws for every model)."""
    for set_name, table in sets.items():
        weights = scoring.group_draws(table["group"], seed=seed)
        draws = {}
        for (model, probe), part in predictions[predictions["test_set"] == set_name].groupby(["model", "probe"]):
            part = part.set_index("id").loc[table["id"]]
            predicted = part["probability"].to_numpy() >= thresholds[model]
            draws[model, probe] = scoring.accuracy_draws(weights, part["label"].to_numpy(), predicted)
            results[model][set_name][probe]["accuracy_95"] = scoring.interval(draws[model, probe])
        models = [model for model, probe in draws if probe == "original"]
        for model, other in report.comparisons(models, members):
            difference = draws[model, "original"] - draws[other, "original"]
            results[model][set_name]["original"][f"minus_{other}_95"] = scoring.interval(difference)


def write_plots(predictions, thresholds, out):
    """dvclive confusion/ROC/PR data for dvc plots, and two PNGs: confusion.png (a model per row, a test
    set per column) and curves.png (ROC and precision-recall of every model, per test set); predicted
    labels use each model's threshold, as the metrics do."""
    from dvclive import Live
    original = predictions[predictions["probe"] == "original"]
    matrices = []
    with Live(out, dvcyaml=False, save_dvc_exp=False) as live:
        for (name, set_name), part in original.groupby(["model", "test_set"], sort=True):
            y, p = part["label"].to_numpy(), part["probability"].to_numpy(dtype=float)
            t = thresholds[name]
            predicted = (p >= t).astype(int)
            names = np.array(plots.CLASS_NAMES)
            live.log_sklearn_plot("confusion_matrix", names[y], names[predicted],
                                  name=f"confusion/{name}_{set_name}.json")
            live.log_sklearn_plot("roc", y, p, name=f"roc/{name}_{set_name}.json")
            live.log_sklearn_plot("precision_recall", y, p, name=f"pr/{name}_{set_name}.json")
            matrices.append((y, predicted, f"{name} on {set_name} (n={len(y)}, threshold {t:.2f})"))
    Path(out, "metrics.json").unlink(missing_ok=True)  # dvclive's empty summary: the metrics are elsewhere
    sets = original["test_set"].nunique()
    plots.grid_png(f"{out}/confusion.png", matrices, plots.confusion_axes, sets, (3.6, 3.2))
    curves = []
    for kind, label in (("roc", "ROC"), ("pr", "precision-recall")):
        for set_name, part in original.groupby("test_set", sort=True):
            curves.append(([(name, m["label"].to_numpy(), m["probability"].to_numpy())
                            for name, m in part.groupby("model")], kind, f"{label}, {set_name}"))
    plots.grid_png(f"{out}/curves.png", curves, plots.curves_axes, sets, (4.2, 4))


def combined_model(path, evaluated, cfg, splits_dir, seed):
    """Fit the combined model of the evaluated models named in cfg.combine on their version's validation split."""
    missing = [m for m in cfg.combine if m not in evaluated]
    if missing:
        raise UserError(f"evaluate.combine names {', '.join(missing)}, which is not among the evaluated models "
                        f"({', '.join(evaluated)})")
    members = [evaluated[m] for m in cfg.combine]
    versions = {m.meta["version"] for m in members}
    if len(versions) > 1:
        raise UserError(f"evaluate.combine: {', '.join(cfg.combine)} were trained on different versions "
                        f"({', '.join(sorted(versions))}); the combined model needs one validation split")
    val = read_csv(f"{splits_dir}/{versions.pop()}/val.csv", dtype={"id": str}).sort_values("id")
    return registry.CombinedModel.fit(path, members, val, seed)


def evaluate(folders, processed_dir, splits_dir, cfg, out, seed=0):
    """Gather the models' evaluation `folders` (evaluation.per_model), fit and evaluate the combined model of
    cfg.combine (config.Evaluate), and write the metrics, the plots and the report. `out` names the files:
    metrics, plots (a folder), combined (the combined model), combined_evaluation (its folder), report
    (markdown) and comparison (its chart). Returns one line per model."""
    combined_path, combined_folder, plots_dir = out["combined"], out["combined_evaluation"], out["plots"]
    evaluated = {}
    for folder in folders:
        model = per_model.Evaluated(folder)
        if model.name in evaluated:
            raise UserError(f"{folder}: two models named {model.name!r}")
        sets = per_model.test_sets(model.result)
        if sets != sorted(f"{v}_test" for v in cfg.test_sets):
            raise UserError(f"{folder}: evaluated on {', '.join(sets)}, but evaluate.test_sets is "
                            f"{', '.join(cfg.test_sets)} (rerun dvc repro)")
        evaluated[model.name] = model
    lines = []
    if cfg.combine:
        combined = combined_model(combined_path, evaluated, cfg, splits_dir, seed)
        probes = sorted(set.intersection(*(set(m.predictions["probe"]) for m in combined.members)) - {"original"})
        lines.append(per_model.evaluate_to(combined_folder, combined, splits_dir, cfg, probes,
                                           open_processed(processed_dir)))
        evaluated[combined.name] = per_model.Evaluated(combined_folder)
    results = {name: m.result for name, m in evaluated.items()}
    predictions = pd.concat([m.predictions for m in evaluated.values()])
    write_csv(f"{plots_dir}/predictions.csv", predictions)
    ood_tables = [m.ood for m in evaluated.values() if m.ood is not None]
    if ood_tables:
        write_csv(f"{plots_dir}/ood.csv", pd.concat(ood_tables))
    thresholds = {name: m.threshold for name, m in evaluated.items()}
    write_plots(predictions, thresholds, plots_dir)
    add_intervals(results, predictions, thresholds, per_model.load_test_sets(splits_dir, cfg.test_sets), seed,
                  cfg.combine)
    write_json(f"{plots_dir}/details.json", results)
    write_json(out["metrics"], summary(results))
    report.write(results, out["report"], out["comparison"])
    return lines
