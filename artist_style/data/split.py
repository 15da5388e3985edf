"""Train/val/test lists for one dataset version, stable and grouped.

A group's split depends only on its key and the seed: u = hash(seed, group) in [0, 1) is compared
with the fractions. So images of one group never straddle splits, adding images never moves an
old one, every v1 image keeps its split in v2, and each label gets the fractions in expectation.
"""
import hashlib

from artist_style.errors import UserError

SPLITS = ("train", "val", "test")
COLUMNS = ["id", "label", "role", "source", "group"]


def in_version(table, version):
    """Boolean mask of the rows of an images table that belong to dataset version `version`."""
    return table["versions"].str.split().apply(lambda vs: version in vs)


def unit_hash(*parts) -> float:
    """A number in [0, 1) that depends only on the parts (stable across runs and machines)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


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
    rows = images[in_version(images, version)]
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


def counts(parts):
    """{split: total, target, other, groups} for the metrics file."""
    return {name: {"total": len(part), "target": int((part["role"] == "target").sum()),
                   "other": int((part["role"] == "other").sum()), "groups": int(part["group"].nunique())}
            for name, part in parts.items()}
