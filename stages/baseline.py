"""baseline: the classical classifier beside the CNN models (artist_style.models.classical), trained
on the train split of params.yaml baseline.version under --splits, C chosen on its val; then its own
evaluation (artist_style.evaluation.per_model, params.yaml evaluate; the probes of featurize.probes).
Reads --processed; writes --model (plain JSON, never a pickle) with its card, the threshold included,
--metrics (the chosen C and its val scores; every C's are in the card) and the evaluation folder --evaluation."""
import time

from artist_style import config
from artist_style.data.processed import open_processed
from artist_style.errors import run, stage_args
from artist_style.evaluation.per_model import evaluate_to
from artist_style.files import require_dir, write_json
from artist_style.models import classical
from artist_style.models.card import ModelCard, card_files
from artist_style.models.registry import BaselineModel


def main():
    args = stage_args(__doc__, "processed", "splits", "model", "metrics", "evaluation", card_files=card_files)
    p = config.load()
    cfg = p.baseline
    settings = cfg.feature_settings()
    processed = open_processed(args.processed)
    split_dir = require_dir(f"{args.splits}/{cfg.version}", f"the split lists of baseline.version {cfg.version}")
    start = time.time()
    x, y = classical.split_features(f"{split_dir}/train.csv", processed, settings)
    xv, yv = classical.split_features(f"{split_dir}/val.csv", processed, settings)
    feature_seconds = time.time() - start
    fitted, C, scores = classical.search(x, y, xv, yv, cfg.C, cfg.max_iter, cfg.root)
    classical.save(classical.from_fitted(fitted, settings, cfg.root), args.model)
    ModelCard(args.model).save_meta({
        "name": "baseline", "version": cfg.version, "C": C, "features": settings,
        "n_features": int(x.shape[1]), "root": cfg.root,
        "classifier": "StandardScaler + LogisticRegression (L2)", **processed.meta,
        "val_by_C": {f"{c:g}": {k: round(float(v), 6) for k, v in s.items()} for c, s in scores.items()}})
    write_json(args.metrics, {  # the chosen C's figures; every C's are in the card
        "C": C, "n_train": len(y), "n_val": len(yv), "val": {k: round(float(v), 6) for k, v in scores[C].items()}})
    print(f"baseline: C {C:g}, val accuracy {scores[C]['accuracy']:.3f}, {len(y)} training images, "
          f"{x.shape[1]} features in {feature_seconds:.1f} s, total {time.time() - start:.1f} s -> {args.model}")
    model = BaselineModel(args.model, processed, p.featurize.hue_degrees)
    print("evaluate " + evaluate_to(args.evaluation, model, args.splits, p.evaluate, p.featurize.probes, processed))


if __name__ == "__main__":
    run(main)
