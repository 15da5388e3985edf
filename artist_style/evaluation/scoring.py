"""Metrics of binary predictions (scikit-learn), the choice of a decision threshold, and intervals of the
accuracy (a bootstrap over the test set's groups)."""
import numpy as np
from sklearn import metrics as skm

RULES = ("f1", "balanced_accuracy")
RESAMPLES = 2000  # bootstrap draws of the test set's groups


def binary_metrics(labels, probabilities, threshold=0.5):
    """Accuracy, per-class and macro precision/recall/F1, ROC-AUC, confusion counts and n.

    labels: 1 = target artist, 0 = other; predicted target when probability >= threshold.
    """
    y = np.asarray(labels, dtype=int)
    p = np.asarray(probabilities, dtype=float)
    pred = (p >= threshold).astype(int)
    precision, recall, f1, _ = skm.precision_recall_fscore_support(y, pred, labels=[1, 0], zero_division=0)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    out = {
        "n": int(len(y)), "accuracy": skm.accuracy_score(y, pred),
        "balanced_accuracy": skm.balanced_accuracy_score(y, pred) if len(set(y)) == 2 else float("nan"),
        "precision_target": precision[0], "recall_target": recall[0], "f1_target": f1[0],
        "precision_other": precision[1], "recall_other": recall[1], "f1_other": f1[1],
        "f1_macro": float(np.mean(f1)),
        "roc_auc": skm.roc_auc_score(y, p) if len(set(y)) == 2 else float("nan"),
        "tp": int(tp), "fp": int(fp), "tn": int(tn), "fn": int(fn),
    }
    return {k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else v) for k, v in out.items()}


def choose_threshold(labels, probabilities, rule="f1"):
    """The threshold that maximises `rule` on these (validation) predictions, without chasing single images.

    Candidates are 0.5 and the midpoints between consecutive distinct probabilities. The best score
    is found, then every candidate scoring within 1/n of it (about what one of the n images can
    change) counts as equally good, and of those the one nearest 0.5 wins: on a small validation
    set, moving the threshold to fix one image mostly moves it into a crowd of others.
    Returns (threshold, its score).
    """
    if rule not in RULES:
        raise ValueError(f"unknown threshold rule {rule!r}")
    y = np.asarray(labels, dtype=int)
    probs = np.asarray(probabilities, dtype=float)
    p = np.unique(probs)
    candidates = np.concatenate([[0.5], (p[1:] + p[:-1]) / 2])
    score = {"f1": lambda pred: skm.f1_score(y, pred, zero_division=0),
             "balanced_accuracy": lambda pred: skm.balanced_accuracy_score(y, pred)}[rule]
    scores = np.array([score((probs >= t).astype(int)) for t in candidates])
    good = np.flatnonzero(scores >= scores.max() - 1 / len(y) - 1e-12)
    pick = good[np.argmin(np.abs(candidates[good] - 0.5))]
    return float(candidates[pick]), float(scores[pick])


def group_draws(groups, resamples=RESAMPLES, seed=0):
    """(resamples, images) weights of a cluster bootstrap: each row draws the test set's groups again, with
    replacement and as many as there are, and gives every image its group's count. Images of one group
    (variants of one drawing, one emoji in several sources) are not independent of each other, so the
    groups, not the images, are what is drawn. The same draws serve every model: differences are paired."""
    _, index = np.unique(np.asarray(groups, dtype=str), return_inverse=True)
    g = int(index.max()) + 1
    counts = np.random.default_rng(seed).multinomial(g, np.full(g, 1.0 / g), size=resamples)
    return counts[:, index].astype(np.float64)


def accuracy_draws(weights, labels, predicted, balanced=False):
    """Accuracy (balanced: the mean of the two classes' recalls) of the 0/1 `predicted` under each row of
    `weights` (group_draws); nan for a draw without both classes."""
    y = np.asarray(labels).astype(bool)
    right = np.asarray(predicted).astype(bool) == y
    if not balanced:
        return weights @ right.astype(float) / weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 0.5 * (weights @ (right & y).astype(float) / (weights @ y.astype(float))
                      + weights @ (right & ~y).astype(float) / (weights @ (~y).astype(float)))


def interval(draws, level=0.95):
    """[low, high]: the central `level` share of the bootstrap draws (percentile interval). A model with no
    errors gets no width: the draws cannot show errors the test set never had."""
    low, high = np.nanquantile(np.asarray(draws, dtype=float), [(1 - level) / 2, (1 + level) / 2])
    return [round(float(low), 6), round(float(high), 6)]
