"""report: one table (--out, markdown) and one chart (--plot) comparing every model on every test set
and probe, from evaluate's --metrics alone (artist_style.evaluation.report)."""
from artist_style.errors import run, stage_args
from artist_style.evaluation import report


def main():
    args = stage_args(__doc__, "metrics", "out", "plot")
    n = report.write(args.metrics, args.out, args.plot)
    print(f"report: {n} rows -> {args.out}, {args.plot}")


if __name__ == "__main__":
    run(main)
