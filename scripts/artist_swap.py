"""The artist-swap benchmark (artist_style.evaluation.artist_swap): every source of params.yaml in turn
as the target, on the pipeline's current features, processed images and splits (run `dvc repro` first).

    python scripts/artist_swap.py [--targets noto fluent] [--seeds 5]

Writes metrics/artist_swap.json, metrics/artist_swap.md and plots/artist_swap.png and prints the table
(balanced accuracy, mean +- sd over the seeds). About 1 minute per target and 5 seeds on 2 cores."""
import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import artist_style  # noqa: E402,F401  (TensorFlow settings first)
from artist_style import config  # noqa: E402
from artist_style.errors import run  # noqa: E402
from artist_style.evaluation.artist_swap import artist_swap  # noqa: E402
from artist_style.evaluation.report import swap_table  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--targets", nargs="+", help="sources to use as the target (default: all)")
    parser.add_argument("--seeds", type=int, default=5, help="training seeds per task (params.yaml seed, +1, ...)")
    parser.add_argument("--features", default="data/features")
    parser.add_argument("--processed", default="data/processed")
    parser.add_argument("--splits", default="data/splits")
    parser.add_argument("--out", default="metrics/artist_swap.json")
    parser.add_argument("--markdown", default="metrics/artist_swap.md")
    parser.add_argument("--plot", default="plots/artist_swap.png")
    args = parser.parse_args()
    results = artist_swap(config.load(), args.features, args.processed, args.splits, args.out, args.markdown, args.plot,
                          args.targets, args.seeds)
    print(swap_table(results))


if __name__ == "__main__":
    run(main)
