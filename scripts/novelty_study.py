"""How the novelty score was chosen: candidate scores on validation data only (never test).

    python scripts/novelty_study.py      (after dvc repro featurize; under a minute on 2 cores)

For each model (base: v1 train/val, on its head's gap features and on the style features its novelty
reads; refined: v2, style), each candidate is fitted on
the training split's original images and its threshold set at the 99th percentile of the validation
images' scores. Printed per candidate: the share of validation images above it (leave one out: each
image against the threshold of the others, the rate to expect on new images of the same kind), the
largest validation score over the median (a long tail makes the threshold hang on one or two
images), the share of generated pictures above it (seed 1: evaluate reports seed 0's), and the
lowest generated picture's score over the threshold (above 1: every picture flagged; the margin).
Then, for the chosen score, the two threshold rules: validation scores alone, or with the training
images' leave-one-group-out scores.
"""
import sys
from pathlib import Path

import numpy as np
from sklearn.covariance import LedoitWolf
from sklearn.decomposition import PCA

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from artist_style.data import ood  # noqa: E402
from artist_style.data.features import Features  # noqa: E402
from artist_style.models import network  # noqa: E402
from artist_style.models.heads import novelty_data  # noqa: E402
from artist_style.models.novelty import Novelty, signed_log  # noqa: E402

QUANTILE, SEED = 0.99, 1


def standardised(train):
    mean, std = train.mean(axis=0), train.std(axis=0)
    std = np.where(std > 0, std, np.inf)  # constant features: ignored
    return lambda x: (x - mean) / std


def mahalanobis_pca(components, log=False):
    """Mahalanobis distance (Ledoit-Wolf covariance) in a PCA space of the standardised features, or of
    the signed-log features, centred only (standardising them blows up near-constant channels)."""
    def fit(train):
        scale = standardised(train) if not log else lambda x: signed_log(x) - signed_log(train).mean(axis=0)
        pca = PCA(components, svd_solver="full").fit(scale(train))
        covariance = LedoitWolf().fit(pca.transform(scale(train)))
        return lambda x: covariance.mahalanobis(pca.transform(scale(x)))
    return fit


def mahalanobis_full(train):
    scale = standardised(train)
    covariance = LedoitWolf().fit(scale(train))
    return lambda x: covariance.mahalanobis(scale(x))


def neighbours(k, log):
    """Mean distance to the k nearest training images: the package's Novelty (signed log), or the same
    on the raw features."""
    def fit(train):
        if log:
            return Novelty(signed_log(train), k, 0.0, QUANTILE).score

        def score(x):
            d2 = np.square(x).sum(1)[:, None] - 2 * x @ train.T + np.square(train).sum(1)[None]
            return np.sqrt(np.sort(np.maximum(d2, 0), axis=1)[:, :k]).mean(axis=1)
        return score
    return fit


CANDIDATES = {
    "Mahalanobis, PCA 32, standardised": mahalanobis_pca(32),
    "Mahalanobis, PCA 64, standardised": mahalanobis_pca(64),
    "Mahalanobis, PCA 95% variance, standardised": mahalanobis_pca(0.95),
    "Mahalanobis, all features, standardised": mahalanobis_full,
    "Mahalanobis, PCA 32, signed log": mahalanobis_pca(32, log=True),
    "5 nearest neighbours, raw features": neighbours(5, log=False),
    "1 nearest neighbour, signed log": neighbours(1, log=True),
    "5 nearest neighbours, signed log (chosen)": neighbours(5, log=True),
    "20 nearest neighbours, signed log": neighbours(20, log=True),
}


def main():
    features = Features("data/features")
    info = features.info
    names, pictures = ood.images(info["image_size"], info["resize"], SEED)
    featurizer = network.build_featurizer(info["backbone"], features.backbone(), features.correlations)
    generated = featurizer.predict(pictures.astype(np.float32), verbose=0)
    # the base head reads gap, but its novelty reads style (models.novelty.POOLING): both are shown
    for model, version, pooling in (("base", "v1", "gap"), ("base", "v1", "style"), ("refined", "v2", "style")):
        train, groups, val = novelty_data(features, features.array(pooling), f"data/splits/{version}")
        train, val = np.asarray(train, dtype=np.float64), np.asarray(val, dtype=np.float64)
        odd = generated[pooling].astype(np.float64)
        print(f"\n{model} ({version}, {pooling}: {train.shape[1]} features; {len(train)} train, {len(val)} val, "
              f"{len(odd)} generated)")
        print("| candidate | val flagged | val, left out | val max / median | generated flagged "
              "| lowest generated / threshold |")
        for name, fit in CANDIDATES.items():
            score = fit(train)
            s_val, s_odd = score(val), score(odd)
            threshold = np.quantile(s_val, QUANTILE)
            left_out = np.mean([s_val[i] > np.quantile(np.delete(s_val, i), QUANTILE) for i in range(len(s_val))])
            tail = s_val.max() / np.median(s_val)
            print(f"| {name} | {np.mean(s_val > threshold):.3f} | {left_out:.3f} | {tail:.1f} "
                  f"| {np.mean(s_odd > threshold):.3f} | {s_odd.min() / threshold:.2f} |", flush=True)
        threshold_rules(train, groups, val, odd)


def threshold_rules(train, groups, val, odd):
    """The chosen score's threshold from the validation scores alone, and from them plus the training
    images' leave-one-group-out scores (the package's rule). Left out: as above, each validation image
    against the threshold of the other held-out scores."""
    chosen = Novelty.fit(train, val, 5, QUANTILE, groups)
    s_val, s_odd = chosen.score(val), chosen.score(odd)
    held_out = chosen.held_out(groups)
    print(f"validation median {np.median(s_val):.2f}, training held out median {np.median(held_out):.2f}")
    print("| threshold from | scores | val flagged | val, left out | generated flagged "
          "| lowest generated / threshold |")
    for rule, extra in (("validation", np.zeros(0)),
                        ("validation + training, leave one group out (chosen)", held_out)):
        threshold = np.quantile(np.concatenate([s_val, extra]), QUANTILE)
        left_out = np.mean([s_val[i] > np.quantile(np.concatenate([np.delete(s_val, i), extra]), QUANTILE)
                            for i in range(len(s_val))])
        print(f"| {rule} | {len(s_val) + len(extra)} | {np.mean(s_val > threshold):.3f} | {left_out:.3f} "
              f"| {np.mean(s_odd > threshold):.3f} | {s_odd.min() / threshold:.2f} |", flush=True)


if __name__ == "__main__":
    main()
