"""baseline: a classical classifier beside the CNN models (colour, edge and texture histograms).

Classical features (stages.classical) of the preprocessed images of the `baseline.version` train
split; square-rooted if `root` (the Hellinger map: differences in rare histogram bins count more),
standardised, then logistic regression (L2) for every C in `baseline.C`, each fitted on train and
scored on val. The C with the highest val accuracy wins (ties: lower val log loss, then the smaller
C). The winner is kept as fitted on train alone, not refitted on train + val: val stays held out,
so evaluate chooses the baseline's threshold on it exactly as for the Keras models, which also
learn on train only.

Writes models/baseline.joblib: a scikit-learn Pipeline (features, root, scale, classify) whose
predict_proba takes (n, h, w, 3) uint8 RGB images as preprocess makes them; models/baseline.json
(how it was made); metrics/baseline.json (the chosen C, val scores for every C, n_train, n_val).
"""
import argparse
import time

import numpy as np

from stages import classical, params
from stages.common import ensure_parent, read_csv, run, split_folder, write_json
from stages.preprocess import open_processed, rows_for

FEATURE_KEYS = ("colour_bins", "orientations", "edge_threshold", "lbp_radii")


def classifier(C, max_iter, root):
    """Features (square-rooted if `root`) standardised, then L2 logistic regression."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler
    return Pipeline([("root", FunctionTransformer(np.sqrt if root else None)), ("scale", StandardScaler()),
                     ("classify", LogisticRegression(C=C, max_iter=max_iter))])


def search(x, y, xv, yv, Cs, max_iter=5000, root=True):
    """(fitted classifier of the chosen C, chosen C, {C: val scores}): see the module's docstring."""
    from sklearn.metrics import accuracy_score, log_loss, roc_auc_score
    fitted, scores = {}, {}
    for C in Cs:
        fitted[C] = classifier(C, max_iter, root).fit(x, y)
        p = fitted[C].predict_proba(xv)[:, 1]
        scores[C] = {"accuracy": accuracy_score(yv, (p >= 0.5).astype(int)),
                     "log_loss": log_loss(yv, p, labels=[0, 1]),
                     "roc_auc": roc_auc_score(yv, p) if len(set(yv)) == 2 else float("nan")}
    best = min(Cs, key=lambda C: (-scores[C]["accuracy"], scores[C]["log_loss"], C))
    return fitted[best], best, scores


def exported(fitted, settings):
    """The whole model: uint8 images -> features -> the fitted classifier."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer
    return Pipeline([("features", FunctionTransformer(classical.features, kw_args=settings)), *fitted.steps])


def split_features(split_file, processed, settings):
    """(features, labels) of the images of one split file, in the file's order."""
    index, pixels, _ = processed
    table = read_csv(split_file, dtype={"id": str})
    images = np.asarray(pixels[rows_for(index, table["id"])])
    return classical.features(images, **settings), table["label"].to_numpy(dtype=int)


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--processed", default="data/processed")
    parser.add_argument("--splits", default="data/splits")
    parser.add_argument("--model", default="models/baseline.joblib")
    parser.add_argument("--metrics", default="metrics/baseline.json")
    args = parser.parse_args()
    cfg = params.load("baseline")["baseline"]
    import joblib

    settings = {k: cfg[k] for k in FEATURE_KEYS}
    processed = open_processed(args.processed)
    split_dir = split_folder(args.splits, "baseline", cfg["version"])
    start = time.time()
    x, y = split_features(f"{split_dir}/train.csv", processed, settings)
    xv, yv = split_features(f"{split_dir}/val.csv", processed, settings)
    feature_seconds = time.time() - start
    fitted, C, scores = search(x, y, xv, yv, cfg["C"], cfg["max_iter"], cfg["root"])
    joblib.dump(exported(fitted, settings), ensure_parent(args.model))
    write_json(args.model.removesuffix(".joblib") + ".json", {
        "name": "baseline", "version": cfg["version"], "C": C, "features": settings,
        "n_features": int(x.shape[1]), "root": cfg["root"],
        "classifier": "StandardScaler + LogisticRegression (L2)",
        **processed[2]})
    write_json(args.metrics, {
        "C": C, "n_train": len(y), "n_val": len(yv),
        "val": {k: round(float(v), 6) for k, v in scores[C].items()},
        "val_accuracy_by_C": {f"{c:g}": round(float(s["accuracy"]), 6) for c, s in scores.items()},
        "val_log_loss_by_C": {f"{c:g}": round(float(s["log_loss"]), 6) for c, s in scores.items()}})
    print(f"baseline: C {C:g}, val accuracy {scores[C]['accuracy']:.3f}, {len(y)} training images, "
          f"{x.shape[1]} features in {feature_seconds:.1f} s, total {time.time() - start:.1f} s -> {args.model}")


if __name__ == "__main__":
    run(main)
