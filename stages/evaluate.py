"""evaluate: every model (--model, one or more) on the same test sets and probes, predictions matched
to labels by image id (artist_style.evaluation.evaluate). Reads --features, --processed and --splits;
writes --metrics, the folder --plots and each model's threshold file."""
from artist_style import config
from artist_style.errors import run, stage_args
from artist_style.evaluation.evaluate import evaluate


def main():
    args = stage_args(__doc__, "features", "processed", "splits", "metrics", "plots", many=["model"])
    cfg = config.load().evaluate
    for line in evaluate(args.model, args.features, args.processed, args.splits, cfg, args.metrics, args.plots):
        print(f"evaluate {line}")


if __name__ == "__main__":
    run(main)
