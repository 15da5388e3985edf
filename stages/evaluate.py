"""evaluate: every model (--model, one or more) on the same test sets and probes, predictions matched
to labels by image id (artist_style.evaluation.evaluate). Reads --features, --processed and --splits;
writes --metrics, the folder --plots, each model's threshold file and the combined model --combined
(params.yaml evaluate.combine, stacked on validation: artist_style.models.stack)."""
from artist_style import config
from artist_style.errors import run, stage_args
from artist_style.evaluation.evaluate import evaluate


def main():
    args = stage_args(__doc__, "features", "processed", "splits", "metrics", "plots", "combined", many=["model"])
    p = config.load()
    for line in evaluate(args.model, args.features, args.processed, args.splits, p.evaluate, args.metrics, args.plots,
                         args.combined, p.seed):
        print(f"evaluate {line}")


if __name__ == "__main__":
    run(main)
