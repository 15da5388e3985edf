"""evaluate: every model's evaluation (--evaluations, the folders their stages wrote) side by side, and
the combined model of params.yaml evaluate.combine, stacked on validation (artist_style.models.stack)
and evaluated into --combined-evaluation (artist_style.evaluation.evaluate). Reads --processed and
--splits; writes --metrics, the folder --plots and the combined model --combined with its card."""
from artist_style import config
from artist_style.errors import run, stage_args
from artist_style.evaluation.evaluate import evaluate


def main():
    args = stage_args(__doc__, "processed", "splits", "metrics", "plots", "combined", "combined-evaluation",
                      many=["evaluations"])
    p = config.load()
    for line in evaluate(args.evaluations, args.processed, args.splits, p.evaluate, args.metrics, args.plots,
                         args.combined, args.combined_evaluation, p.seed):
        print(f"evaluate {line}")


if __name__ == "__main__":
    run(main)
