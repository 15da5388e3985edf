"""train_base and train_refined: one model's head on cached features, exported end to end
(artist_style.models.heads), with the settings of params.yaml train_<name>. Reads --features and
--split; writes --model (and its card), --metrics and the dvclive folder --live."""
from artist_style import config
from artist_style.errors import UserError, run, stage_args
from artist_style.models.heads import train


def main():
    args = stage_args(__doc__, "features", "split", "model", "metrics", "live", positional=["name"])
    if args.name not in ("base", "refined"):
        raise UserError(f"{args.name!r}: must be base or refined (params.yaml train_base or train_refined)")
    p = config.load()
    cfg = getattr(p, f"train_{args.name}")
    summary = train(args.name, cfg, p.seed, args.features, args.split, args.model, args.metrics, args.live)
    print(f"train_{args.name}: {summary}")


if __name__ == "__main__":
    run(main)
