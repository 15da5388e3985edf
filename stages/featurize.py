"""featurize: run the frozen backbone once per image, augmented view and probe; cache both poolings
(artist_style.data.features). Reads --processed and --splits; writes the folder --out."""
from artist_style import config
from artist_style.data.features import featurize
from artist_style.data.processed import open_processed
from artist_style.errors import run, stage_args
from artist_style.files import require_dir


def main():
    args = stage_args(__doc__, "processed", "splits", "out")
    p = config.load()
    cfg = p.featurize
    processed = open_processed(args.processed)
    n, seconds, counts = featurize(processed, require_dir(args.splits, "split lists"), args.out, cfg, p.seed)
    print(f"featurize: {n} images {counts} in {seconds:.1f} s, {n / seconds:.1f} images/s "
          f"({cfg.backbone}, weights {cfg.weights}, {processed.pixels.shape[1]} px)")


if __name__ == "__main__":
    run(main)
