"""split: train/val/test lists of one dataset version, stable and grouped (artist_style.data.split).

Writes --out/{train,val,test}.csv and --metrics (counts per split).
"""
from artist_style import config
from artist_style.data.split import counts, split
from artist_style.errors import UserError, run, stage_args
from artist_style.files import read_csv, write_csv, write_json


def main():
    args = stage_args(__doc__, "images", "out", "metrics", positional=["version"])
    p = config.load()
    if args.version not in p.data.versions:
        raise UserError(f"version {args.version!r} is not in params.yaml data.versions")
    images = read_csv(args.images, dtype={"id": str, "group": str})
    parts = split(images, args.version, p.seed, p.split.test_fraction, p.split.val_fraction)
    for name, part in parts.items():
        write_csv(f"{args.out}/{name}.csv", part)
    stats = counts(parts)
    write_json(args.metrics, stats)
    print(f"split {args.version}: " + ", ".join(f"{k} {v['total']}" for k, v in stats.items()))


if __name__ == "__main__":
    run(main)
