"""The classical baseline: colour, edge and texture histograms + logistic regression, no deep learning.

It learns on the train split; square-rooted features if `root` (the Hellinger map: differences in
rare histogram bins count more), standardised, then logistic regression (L2) for every C in
`baseline.C`, each fitted on train and scored on val. The C with the highest val accuracy wins (ties:
lower val log loss, then the smaller C). The winner is kept as fitted on train alone, not refitted
on train + val: val stays held out, so evaluate chooses the baseline's threshold on it exactly as
for the Keras models, which also learn on train only.

The saved model is plain JSON (feature settings, scaler and coefficients), so loading a model file
never runs code, unlike a pickle; `load(path).predict_proba(images)` takes (n, h, w, 3) uint8 RGB
images as preprocess makes them.

Features:

`features(batch)` turns (n, h, w, 3) uint8 RGB images into an (n, d) float64 matrix, the
concatenation of (in this order, see `names`):
- colour: a joint RGB histogram, `colour_bins` bins per channel (bins**3 values, fractions of pixels);
- orientation: the histogram of gradient orientations of the gray image, weighted by gradient
  magnitude and normalised to sum 1 (all zero when the image has no gradient). Orientation is
  unsigned (0..180 degrees); bin 0 is centred on 0 degrees, a horizontal gradient (a vertical edge);
- energy: the mean gradient magnitude, and edge density: the fraction of pixels whose magnitude is
  at least `edge_threshold`. Gray is luma in [0, 1]; gradients are Sobel, scaled so that a step from
  black to white gives magnitude 0.5 on the two pixels beside it;
- lbp: for each radius r, the histogram of uniform local binary patterns of the gray image with the
  8 neighbours at distance r (corners and edge midpoints of the square of side 2r + 1, no
  interpolation), borders replicated: codes 0..8 (number of neighbours >= the centre, for patterns
  with at most two 0/1 transitions around the ring), 9 for the other patterns.
Deterministic and vectorised over the batch (computed in chunks to bound memory).
"""
import json

import numpy as np
from scipy import ndimage

from artist_style.data.images import grayscale
from artist_style.errors import UserError
from artist_style.files import ensure_parent

LBP_CODES = 10  # uniform patterns of 8 neighbours: 0..8 ones, plus one code for the rest
CHUNK = 64


def features(batch, colour_bins=4, orientations=8, edge_threshold=0.1, lbp_radii=(1, 3)):
    """(n, d) features of uint8 RGB images (n, h, w, 3); see the module's docstring."""
    batch = np.asarray(batch)
    if batch.dtype != np.uint8 or batch.ndim != 4 or batch.shape[-1] != 3:
        raise ValueError(f"expected (n, h, w, 3) uint8 images, got {batch.dtype} {batch.shape}")
    parts = [_features(batch[i:i + CHUNK], colour_bins, orientations, edge_threshold, lbp_radii)
             for i in range(0, len(batch), CHUNK)]
    dims = colour_bins ** 3 + orientations + 2 + LBP_CODES * len(lbp_radii)
    return np.concatenate(parts) if parts else np.zeros((0, dims))


def names(colour_bins=4, orientations=8, edge_threshold=0.1, lbp_radii=(1, 3)):
    """The name of every column of `features` with the same settings."""
    out = [f"rgb_{r}{g}{b}" for r in range(colour_bins) for g in range(colour_bins) for b in range(colour_bins)]
    out += [f"orientation_{round(k * 180 / orientations)}" for k in range(orientations)]
    out += ["energy", "edge_density"]
    return out + [f"lbp{r}_{c}" for r in lbp_radii for c in range(LBP_CODES)]


def _features(batch, colour_bins, orientations, edge_threshold, lbp_radii):
    gray = grayscale(batch)[..., 0]
    return np.concatenate([colour_histogram(batch, colour_bins),
                           *gradient_features(gray, orientations, edge_threshold),
                           *(lbp_histogram(gray, r) for r in lbp_radii)], axis=1)


def colour_histogram(batch, bins):
    """(n, bins**3) joint RGB histogram, fractions of each image's pixels."""
    n = len(batch)
    q = (batch.astype(np.int64) * bins) >> 8  # 0..255 -> 0..bins-1, equal-width bins
    cell = (q[..., 0] * bins + q[..., 1]) * bins + q[..., 2]
    return _histograms(cell.reshape(n, -1), bins ** 3)


def gradient_features(gray, orientations, edge_threshold):
    """((n, orientations) magnitude-weighted orientation histogram, (n, 2) energy and edge density)."""
    n = len(gray)
    g = gray.astype(np.float32) / 255
    gx = _sobel(g, axis=2)
    gy = _sobel(g, axis=1)
    magnitude = np.hypot(gx, gy)
    angle = np.mod(np.arctan2(gy, gx), np.pi)  # unsigned orientation in [0, pi)
    width = np.pi / orientations
    cell = np.floor((angle + width / 2) / width).astype(np.int64) % orientations
    index = (np.arange(n)[:, None] * orientations + cell.reshape(n, -1)).ravel()
    weight = magnitude.reshape(n, -1)
    hist = np.bincount(index, weights=weight.ravel().astype(np.float64), minlength=n * orientations)
    hist = hist.reshape(n, orientations)
    total = hist.sum(axis=1, keepdims=True)
    hist = np.divide(hist, total, out=np.zeros_like(hist), where=total > 0)
    energy = weight.mean(axis=1, dtype=np.float64)
    edges = (weight >= edge_threshold).mean(axis=1, dtype=np.float64)
    return hist, np.stack([energy, edges], axis=1)


def lbp_histogram(gray, radius):
    """(n, 10) histogram of uniform 8-neighbour LBP codes at distance `radius` (see the docstring)."""
    n, h, w = gray.shape
    r = radius
    padded = np.pad(gray, ((0, 0), (r, r), (r, r)), mode="edge")
    centre = padded[:, r:r + h, r:r + w]
    ring = [(-r, -r), (-r, 0), (-r, r), (0, r), (r, r), (r, 0), (r, -r), (0, -r)]  # clockwise
    bits = np.stack([padded[:, r + dy:r + dy + h, r + dx:r + dx + w] >= centre for dy, dx in ring])
    ones = bits.sum(axis=0)
    transitions = (bits != np.roll(bits, 1, axis=0)).sum(axis=0)
    code = np.where(transitions <= 2, ones, LBP_CODES - 1)
    return _histograms(code.reshape(n, -1), LBP_CODES)


def _sobel(g, axis):
    """Sobel derivative of (n, h, w) images along axis 1 (y) or 2 (x), smoothed across, edges replicated."""
    other = 1 if axis == 2 else 2
    d = ndimage.correlate1d(g, [-1.0, 0.0, 1.0], axis=axis, mode="nearest")
    return ndimage.correlate1d(d, [0.25, 0.5, 0.25], axis=other, mode="nearest") / 2


def _histograms(cells, bins):
    """Per-row histograms of integer cells (n, m) in 0..bins-1, as fractions of m."""
    n, m = cells.shape
    index = (np.arange(n)[:, None] * bins + cells).ravel()
    return np.bincount(index, minlength=n * bins).reshape(n, bins) / m


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


class Baseline:
    """A fitted baseline: uint8 images -> features -> [square root] -> standardise -> logistic regression."""

    def __init__(self, settings, root, scaler, logistic):
        self.settings, self.root, self.scaler, self.logistic = settings, root, scaler, logistic

    def predict_proba(self, images):
        x = features(images, **self.settings)
        return self.logistic.predict_proba(self.scaler.transform(np.sqrt(x) if self.root else x))

    def to_dict(self):
        return {"features": self.settings, "root": self.root,
                "scale": {"mean": self.scaler.mean_.tolist(), "scale": self.scaler.scale_.tolist()},
                "logistic": {"coef": self.logistic.coef_.tolist(), "intercept": self.logistic.intercept_.tolist(),
                             "classes": self.logistic.classes_.tolist()}}


def from_fitted(pipeline, settings, root):
    """The Baseline of a fitted `classifier` pipeline."""
    return Baseline(settings, root, pipeline.named_steps["scale"], pipeline.named_steps["classify"])


def save(model, path):
    ensure_parent(path).write_text(json.dumps(model.to_dict()) + "\n")


def load(path):
    """A saved Baseline; one clear error if the file is missing or not one of ours. Only numbers are read."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler
    try:
        d = json.loads(open(path).read())
        scaler = StandardScaler()
        scaler.mean_ = np.array(d["scale"]["mean"], dtype=np.float64)
        scaler.scale_ = np.array(d["scale"]["scale"], dtype=np.float64)
        scaler.var_ = np.square(scaler.scale_)
        scaler.n_features_in_ = len(scaler.mean_)
        logistic = LogisticRegression()
        logistic.coef_ = np.array(d["logistic"]["coef"], dtype=np.float64)
        logistic.intercept_ = np.array(d["logistic"]["intercept"], dtype=np.float64)
        logistic.classes_ = np.array(d["logistic"]["classes"], dtype=np.int64)
        logistic.n_features_in_ = logistic.coef_.shape[1]
        settings = {k: d["features"][k] for k in ("colour_bins", "orientations", "edge_threshold", "lbp_radii")}
        root = bool(d["root"])
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"{path}: not a baseline model saved by this pipeline: {type(err).__name__}: {err}")
    if not scaler.n_features_in_ == logistic.n_features_in_ == len(names(**settings)):
        raise UserError(f"{path}: the scaler, coefficients and feature settings disagree in size")
    return Baseline(settings, root, scaler, logistic)


def split_features(split_file, processed, settings):
    """(features, labels) of the images of one split file (processed: data.processed.Processed), in order."""
    from artist_style.files import read_csv
    table = read_csv(split_file, dtype={"id": str})
    return features(processed.images(table["id"]), **settings), table["label"].to_numpy(dtype=int)
