"""train_base and train_refined: one model's head on cached features, exported end to end
(artist_style.models.heads), with the settings of params.yaml train_<name>; then the model's own
evaluation (artist_style.evaluation.per_model, params.yaml evaluate), while TensorFlow is loaded.
Reads --features, --processed and --splits; writes --model (and its card, the threshold included),
--metrics, the dvclive folder --live and the evaluation folder --evaluation."""
from artist_style import config
from artist_style.data.features import Features
from artist_style.data.processed import open_processed
from artist_style.errors import UserError, run, stage_args
from artist_style.evaluation.per_model import evaluate_to
from artist_style.files import require_dir
from artist_style.models import registry
from artist_style.models.card import card_files
from artist_style.models.heads import train


def main():
    args = stage_args(__doc__, "features", "processed", "splits", "model", "metrics", "live", "evaluation",
                      positional=["name"], card_files=card_files)
    if args.name not in ("base", "refined"):
        raise UserError(f"{args.name!r}: must be base or refined (params.yaml train_base or train_refined)")
    p = config.load()
    cfg = getattr(p, f"train_{args.name}")
    split_dir = require_dir(f"{args.splits}/{cfg.version}", f"the split lists of {args.name}'s version {cfg.version}")
    summary = train(args.name, cfg, p.seed, args.features, split_dir, args.model, args.metrics, args.live)
    print(f"train_{args.name}: {summary}")
    features, processed = Features(args.features), open_processed(args.processed)
    model = registry.load(args.model, features, processed)
    line = evaluate_to(args.evaluation, model, args.splits, p.evaluate, features.info["probes"], processed)
    print(f"evaluate {line}")


if __name__ == "__main__":
    run(main)
