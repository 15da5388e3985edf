"""The artist-swap benchmark: does the method recognise any artist, or only the sample's target?

Each source of params.yaml `data.sources` in turn is the target and all the others are "other",
on the same grouped splits as the pipeline (labels come from the split files' `source` column, so
nothing upstream reruns: features and processed pixels do not depend on labels). For every task
each model is trained exactly as its stage trains it (train_base, train_refined, baseline with its
C chosen on validation, and the combined model of evaluate.combine stacked on validation), its
threshold is chosen on validation by evaluate.threshold_rule, and it is scored on the test set of
the last of evaluate.test_sets, on the original images and on every probe. Only the test set is
scored; nothing is chosen on it.

A head trained with another seed scores 1-2 points differently (one or a few test images), about the
gaps this benchmark is read for, so every task is run with several seeds (params.yaml `seed`, then
`seed` + 1, ...): the heads and the stacker's folds change with the seed, the baseline (a deterministic
logistic regression) does not. The first seed is the pipeline's own, so the sample's own task
reproduces evaluate's figures.

The seeds say how much training moves a figure; the test set's size says how much the figure could move
with other test drawings. So each mean also gets a 95% interval from drawing the test set's groups again
(scoring.group_draws, the same draws for every model, seed and target), and so does each model's
difference from the baseline on the original images, the comparison this benchmark is read for.

Writes {target: {model: {probe: {accuracy, balanced_accuracy, balanced_accuracy_sd, balanced_accuracy_95,
[minus_baseline, minus_baseline_95, minus_<member>, minus_<member>_95,] accuracy_by_seed,
balanced_accuracy_by_seed}}}} as JSON (accuracy and balanced_accuracy: the mean over seeds; sd: their sample
standard deviation; minus_baseline: on the original images, the mean balanced accuracy minus the
baseline's; minus_<member>: the same for the combined model against its other members), its tables as markdown
(report.swap_markdown) and a chart.
"""
import time

import numpy as np

from artist_style.data.features import Features
from artist_style.data.processed import open_processed
from artist_style.errors import UserError
from artist_style.evaluation import plots, report
from artist_style.evaluation.per_model import rounded
from artist_style.evaluation.scoring import accuracy_draws, binary_metrics, choose_threshold, group_draws, interval
from artist_style.files import ensure_parent, read_csv, write_json
from artist_style.models import classical, heads, registry, stack

SCORES = ("accuracy", "balanced_accuracy")


def scores(labels, probabilities, threshold):
    """The swap's two figures, from the metrics evaluate reports."""
    metrics = binary_metrics(labels, probabilities, threshold)
    return {k: metrics[k] for k in SCORES}


class Tables:
    """The split tables a task needs, read once: {version: {split: table sorted by id}}."""

    def __init__(self, splits_dir, versions):
        self.splits_dir = splits_dir
        self.tables = {v: {s: read_csv(f"{splits_dir}/{v}/{s}.csv", dtype={"id": str}).sort_values("id")
                           for s in ("train", "val", "test")} for v in versions}

    def __call__(self, version, split):
        return self.tables[version][split]


class BaselineFeatures:
    """The classical features of every image (and test probe) the tasks use, computed once."""

    def __init__(self, processed, settings, hue_degrees):
        self.processed, self.settings, self.hue_degrees, self.known = processed, settings, hue_degrees, {}

    def __call__(self, ids, kind="original"):
        return registry.remembered(self.known, ids, kind, lambda todo: classical.features(
            registry.images(self.processed, todo, kind, self.hue_degrees), **self.settings))


def head_model(name, cfg, seed, features, tables, splits_dir, target, probes, test_version):
    """(val probabilities (held out), {probe: test probabilities}) of train_<name>'s head trained for `target`."""
    head, _, _, _, held_out = heads.fit_on_split(cfg, seed, features, f"{splits_dir}/{cfg.version}", None, target)
    array = features.array(cfg.pooling)

    def predict(ids, kind="original"):
        rows, _ = features.rows(ids, kind)
        return rounded(heads.probabilities(head, array, rows))

    test = tables(test_version, "test")["id"]
    val = rounded(held_out.loc[tables(cfg.version, "val")["id"]].to_numpy())
    return val, {k: predict(test, k) for k in ("original", *probes)}


def baseline_model(cfg, baseline_features, tables, target, probes, test_version):
    """(val probabilities, {probe: test probabilities}) of the baseline trained for `target`."""
    train, val = tables(cfg.version, "train"), tables(cfg.version, "val")
    fitted, _, _ = classical.search(baseline_features(train["id"]), heads.split_labels(train, target),
                                    baseline_features(val["id"]), heads.split_labels(val, target),
                                    cfg.C, cfg.max_iter, cfg.root)
    test = tables(test_version, "test")["id"]
    prob = lambda ids, kind="original": rounded(fitted.predict_proba(baseline_features(ids, kind))[:, 1])  # noqa: E731
    return prob(val["id"]), {k: prob(test, k) for k in ("original", *probes)}


def run_task(target, p, seed, features, baseline, tables, splits_dir, probes, test_version, weights):
    """{model: {probe: scores and "draws" (balanced accuracy under each row of weights: group_draws)}} for
    one target source and seed; baseline: baseline_model's predictions."""
    predictions = {name: head_model(name, getattr(p, f"train_{name}"), seed, features, tables, splits_dir,
                                    target, probes, test_version) for name in ("base", "refined")}
    predictions["baseline"] = baseline
    versions = {"base": p.train_base.version, "refined": p.train_refined.version, "baseline": p.baseline.version}
    thresholds = {}
    for name, (val_p, _) in predictions.items():
        val = tables(versions[name], "val")
        thresholds[name], _ = choose_threshold(heads.split_labels(val, target), val_p, p.evaluate.threshold_rule)
    if p.evaluate.combine:
        members = p.evaluate.combine
        val = tables(versions[members[0]], "val")
        y_val = heads.split_labels(val, target)
        fitted, oof = stack.fit(members, [predictions[m][0] for m in members], y_val, seed)
        test = {k: rounded(fitted.combine(*(predictions[m][1][k] for m in members))) for k in ("original", *probes)}
        predictions["combined"] = (None, test)
        thresholds["combined"], _ = choose_threshold(y_val, rounded(oof), p.evaluate.threshold_rule)
    labels = heads.split_labels(tables(test_version, "test"), target)
    return {name: {k: {**scores(labels, probs, thresholds[name]),
                       "draws": accuracy_draws(weights, labels, probs >= thresholds[name], balanced=True)}
                   for k, probs in test.items()}
            for name, (_, test) in predictions.items()}


def summarise(by_seed, members=()):
    """{model: {probe: scores and draws}} per seed -> {model: {probe: mean, sd, intervals and per-seed scores}};
    on the original images, each model but the baseline also gets its difference from the baseline, and the
    combined model its difference from each of its other `members` (`minus_<member>`, `minus_<member>_95`)."""
    out, draws = {}, {}
    for model, by_probe in by_seed[0].items():
        out[model] = {}
        for probe in by_probe:
            values = {k: [run[model][probe][k] for run in by_seed] for k in SCORES}
            sd = float(np.std(values["balanced_accuracy"], ddof=1)) if len(by_seed) > 1 else 0.0
            draws[model, probe] = np.mean([run[model][probe]["draws"] for run in by_seed], axis=0)
            out[model][probe] = {**{k: round(float(np.mean(v)), 6) for k, v in values.items()},
                                 "balanced_accuracy_sd": round(sd, 6),
                                 "balanced_accuracy_95": interval(draws[model, probe]),
                                 **{f"{k}_by_seed": v for k, v in values.items()}}
    for model, other in report.comparisons(list(out), members):
        scores = out[model]["original"]
        scores[f"minus_{other}"] = round(scores["balanced_accuracy"] - out[other]["original"]["balanced_accuracy"], 6)
        scores[f"minus_{other}_95"] = interval(draws[model, "original"] - draws[other, "original"])
    return out


def artist_swap(p, features_dir, processed_dir, splits_dir, out_json, out_md, out_png, targets=None, seeds=5,
                log=print):
    """Run every task (targets: source names; default every source of p.data.sources) with `seeds` seeds
    (p.seed, p.seed + 1, ...); write the results."""
    if seeds < 1:
        raise UserError(f"--seeds {seeds}: must be at least 1")
    features, processed = Features(features_dir), open_processed(processed_dir)
    names = [s.name for s in p.data.sources]
    targets = targets or names
    unknown = [t for t in targets if t not in names]
    if unknown:
        raise UserError(f"unknown target {', '.join(unknown)}: the sources are {', '.join(names)}")
    test_version = p.evaluate.test_sets[-1]
    versions = {p.train_base.version, p.train_refined.version, p.baseline.version, test_version}
    tables = Tables(splits_dir, sorted(versions))
    if "source" not in tables(test_version, "test"):
        raise UserError(f"{splits_dir}: the split files have no source column (run: dvc repro split)")
    probes = features.info["probes"]
    baseline_features = BaselineFeatures(processed, p.baseline.feature_settings(), features.info["hue_degrees"])
    weights = group_draws(tables(test_version, "test")["group"], seed=p.seed)
    results, seed_list = {}, [p.seed + k for k in range(seeds)]
    for target in targets:
        start = time.time()
        if not (tables(test_version, "test")["source"] == target).any():
            raise UserError(f"target {target}: no test image of this source in {splits_dir}/{test_version}/test.csv")
        baseline = baseline_model(p.baseline, baseline_features, tables, target, probes, test_version)
        results[target] = summarise([run_task(target, p, seed, features, baseline, tables, splits_dir, probes,
                                              test_version, weights) for seed in seed_list], p.evaluate.combine)
        log(f"artist_swap {target}: " + ", ".join(
            f"{m} {r['original']['balanced_accuracy']:.3f}" for m, r in results[target].items())
            + f" (balanced accuracy, mean of {seeds} seeds, {time.time() - start:.0f} s)")
    write_json(out_json, results)
    ensure_parent(out_md).write_text(report.swap_markdown(results, seed_list))
    rows = [{"model": m, "test_set": t, "probe": k, **s} for t, by_model in results.items()
            for m, by_probe in by_model.items() for k, s in by_probe.items()]
    plots.comparison_png(out_png, rows, {"balanced_accuracy": "balanced accuracy"},
                         title=f"Artist swap: each source as the target, {test_version} test")
    return results
