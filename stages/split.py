"""split: train/val/test lists for one dataset version, stable and grouped.

A group's split depends only on its key and the seed: u = hash(seed, group) in [0, 1) is compared
with the fractions. So images of one group never straddle splits, adding images never moves an
old one, every v1 image keeps its split in v2, and each label gets the fractions in expectation.
"""
import argparse

from stages import params
from stages.common import UserError, read_csv, run, unit_hash, write_csv, write_json

SPLITS = ("train", "val", "test")
COLUMNS = ["id", "label", "role", "source", "group"]


def assign(group, seed, test_fraction, val_fraction):
    """Split of a group: test with probability test_fraction, val with val_fraction of the rest."""
    u = unit_hash(seed, group)
    if u < test_fraction:
        return "test"
    if u < test_fraction + (1 - test_fraction) * val_fraction:
        return "val"
    return "train"


def split(images, version, seed, test_fraction, val_fraction):
    """{split: rows of `images` in that split} for the images that belong to `version`."""
    rows = images[images["versions"].str.split().apply(lambda vs: version in vs)]
    if rows.empty:
        raise UserError(f"dataset version {version!r} has no images")
    which = rows["group"].map(lambda g: assign(g, seed, test_fraction, val_fraction))
    out = {name: rows.loc[which == name, COLUMNS].sort_values("id").reset_index(drop=True) for name in SPLITS}
    for name, part in out.items():
        for role in ("target", "other"):
            if not (part["role"] == role).any():
                raise UserError(f"split {version}/{name} has no image with role {role!r} "
                                f"({len(rows)} images in {rows['group'].nunique()} groups): add images or "
                                "change split.test_fraction / split.val_fraction / seed")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("version")
    parser.add_argument("--images", default="data/interim/images.csv")
    parser.add_argument("--out", default="data/splits")
    parser.add_argument("--metrics", default="metrics/split")
    args = parser.parse_args()
    p = params.load("data", "split")
    if args.version not in p["data"]["versions"]:
        raise UserError(f"version {args.version!r} is not in params.yaml data.versions")
    images = read_csv(args.images, dtype={"id": str, "group": str})
    parts = split(images, args.version, p["seed"], p["split"]["test_fraction"], p["split"]["val_fraction"])
    stats = {}
    for name, part in parts.items():
        write_csv(f"{args.out}/{args.version}/{name}.csv", part)
        stats[name] = {"total": len(part), "target": int((part["role"] == "target").sum()),
                       "other": int((part["role"] == "other").sum()), "groups": int(part["group"].nunique())}
    write_json(f"{args.metrics}/{args.version}.json", stats)
    print(f"split {args.version}: " + ", ".join(f"{k} {v['total']}" for k, v in stats.items()))


if __name__ == "__main__":
    run(main)
