"""evaluate: every model's evaluation (--evaluations, the folders their stages wrote) side by side, and
the combined model of params.yaml evaluate.combine, stacked on validation (artist_style.models.stack)
and evaluated into --combined-evaluation (artist_style.evaluation.evaluate). Reads --processed and
--splits; writes --metrics, the folder --plots, the combined model --combined with its card, and the
report: one table (--report, markdown) and one chart (--comparison) of every model on every test set
and probe (artist_style.evaluation.report)."""
from artist_style import config
from artist_style.errors import run, stage_args
from artist_style.evaluation.evaluate import evaluate
from artist_style.models.card import card_files

OUTPUTS = ("metrics", "plots", "combined", "combined-evaluation", "report", "comparison")


def main():
    args = stage_args(__doc__, "processed", "splits", *OUTPUTS, many=["evaluations"], card_files=card_files)
    p = config.load()
    out = {name.replace("-", "_"): getattr(args, name.replace("-", "_")) for name in OUTPUTS}
    for line in evaluate(args.evaluations, args.processed, args.splits, p.evaluate, out, p.seed):
        print(f"evaluate {line}")


if __name__ == "__main__":
    run(main)
