"""ingest: every file accepted or rejected with a reason, duplicates kept once, label conflicts refused."""
import hashlib
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artist_style.config import Data, Ingest
from artist_style.data.ingest import ingest as ingest_with
from artist_style.errors import UserError
from tests.conftest import drawing, exif_rotated, huge_png, jpeg, png_bytes

CFG = Ingest(min_side=16, max_pixels=40_000_000, max_file_mb=100, near_duplicate_distance=4, workers=1)


def source(name, path, role="target", versions=("v1", "v2"), **extra):
    return {"name": name, "path": str(path), "role": role, "versions": list(versions), **extra}


def ingest(data, cfg):
    """(images, rejected) tables; tests/test_hostile.py checks the near-duplicate table."""
    return ingest_with(Data.model_validate(data), cfg)[:2]


def messy_folder(folder):
    """One file of each awkward kind, in nested folders."""
    folder = Path(folder)
    (folder / "sub" / "deeper").mkdir(parents=True)
    good = jpeg(Image.new("RGB", (64, 64), "green"))
    files = {
        "ok.png": png_bytes(drawing("target", 1)),
        "sub/truncated.jpg": good[: len(good) // 2],
        "sub/empty.png": b"",
        "sub/text.png": b"just some text\n",
        "sub/deeper/huge.png": huge_png(100_000, 100_000),
        "sub/tiny.png": png_bytes(Image.new("RGB", (8, 8))),
        "cmyk.jpg": jpeg(Image.new("CMYK", (32, 32), (0, 255, 255, 0))),
        "sixteen.png": png_bytes(Image.fromarray(np.full((32, 32), 40000, dtype=np.uint16))),
        "palette.png": png_bytes(Image.new("P", (32, 32), 0), transparency=0),
        "anim.gif": png_bytes(Image.new("RGB", (32, 32), "red"), format="GIF", save_all=True,
                              append_images=[Image.new("RGB", (32, 32), "blue")]),
        "rotated.jpg": exif_rotated(),
    }
    for name, data in files.items():
        (folder / name).write_bytes(data)
    return files


def test_messy_folder_each_file_accepted_or_rejected_with_reason(tmp_path):
    files = messy_folder(tmp_path / "raw")
    before = {p: p.read_bytes() for p in (tmp_path / "raw").rglob("*") if p.is_file()}
    other = tmp_path / "other"
    other.mkdir()
    (other / "b.png").write_bytes(png_bytes(drawing("other", 1)))
    data = {"versions": ["v1", "v2"], "sources": [source("a", tmp_path / "raw"), source("b", other, "other")]}
    images, rejected = ingest(data, CFG)

    reasons = dict(zip(rejected["member"], rejected["reason"]))
    assert reasons == {"sub/truncated.jpg": "truncated", "sub/empty.png": "empty", "sub/text.png": "not_image",
                       "sub/deeper/huge.png": "too_large", "sub/tiny.png": "too_small"}
    kept = images.set_index("member")
    assert set(kept.index) == {"ok.png", "cmyk.jpg", "sixteen.png", "palette.png", "anim.gif", "rotated.jpg", "b.png"}
    assert len(images) + len(rejected) == len(files) + 1  # nothing silently dropped
    assert kept.loc["rotated.jpg", ["width", "height"]].tolist() == [20, 40]
    assert kept.loc["anim.gif", "frames"] == 2
    assert kept.loc["cmyk.jpg", "mode"] == "CMYK"
    assert kept.loc["ok.png", "id"] == hashlib.sha256(files["ok.png"]).hexdigest()[:16]
    assert kept.loc["ok.png", "label"] == 1 and kept.loc["b.png", "label"] == 0
    assert kept.loc["ok.png", "group"] == kept.loc["ok.png", "id"]  # no manifest: own group
    assert kept.loc["ok.png", "versions"] == "v1 v2"
    after = {p: p.read_bytes() for p in (tmp_path / "raw").rglob("*") if p.is_file()}
    assert after == before  # raw files untouched


def test_duplicates_kept_once_and_versions_merged(tmp_path):
    for folder, n in (("old", 3), ("new", 3)):
        (tmp_path / folder).mkdir()
        for i in range(n):
            (tmp_path / folder / f"{i}.png").write_bytes(png_bytes(drawing("target", i)))
    (tmp_path / "new" / "extra.png").write_bytes(png_bytes(drawing("target", 99)))
    (tmp_path / "o").mkdir()
    (tmp_path / "o" / "x.png").write_bytes(png_bytes(drawing("other", 0)))
    data = {"versions": ["v1", "v2"], "sources": [
        source("old", tmp_path / "old", versions=["v1"]), source("new", tmp_path / "new", versions=["v2"]),
        source("o", tmp_path / "o", "other")]}
    images, rejected = ingest(data, CFG)
    assert len(images) == 5
    assert (rejected["reason"] == "duplicate").sum() == 3
    assert set(rejected["source"]) == {"new"}
    old = images[images["source"] == "old"]
    assert (old["versions"] == "v1 v2").all()  # also present in the v2 source
    assert images.loc[images["member"] == "extra.png", "versions"].item() == "v2"


def test_same_image_under_two_labels_is_an_error(tmp_path):
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "same.png").write_bytes(png_bytes(drawing("target", 5)))
    data = {"versions": ["v1"], "sources": [source("a", tmp_path / "a", versions=["v1"]),
                                            source("b", tmp_path / "b", "other", versions=["v1"])]}
    with pytest.raises(UserError, match=r"both labels.*a/same.png \(target\).*b/same.png \(other\)"):
        ingest(data, CFG)


def test_zip_source_with_manifest_groups_and_versions(tmp_path):
    archive = tmp_path / "set.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for i in range(4):
            z.writestr(f"t/{i}.png", png_bytes(drawing("target", i)))
            z.writestr(f"o/{i}.png", png_bytes(drawing("other", i)))
        z.writestr("t/unlisted.png", png_bytes(drawing("target", 50)))
    manifest = tmp_path / "manifest.csv"
    rows = [(f"{d}/{i}.png", f"g{i // 2}", "v1" if i < 2 else "v2") for d in "to" for i in range(4)]
    pd.DataFrame(rows, columns=["file", "group", "first_version"]).to_csv(manifest, index=False)
    data = {"versions": ["v1", "v2"], "sources": [
        source("t", archive, subdir="t", manifest=str(manifest)),
        source("o", archive, "other", subdir="o", manifest=str(manifest))]}
    before = archive.read_bytes()
    images, rejected = ingest(data, CFG)
    assert archive.read_bytes() == before
    assert rejected[["member", "reason"]].values.tolist() == [["t/unlisted.png", "not_in_manifest"]]
    t = images[images["source"] == "t"].set_index("member")
    assert t.loc["t/0.png", "group"] == "g0" and t.loc["t/3.png", "group"] == "g1"
    assert t.loc["t/1.png", "versions"] == "v1 v2" and t.loc["t/2.png", "versions"] == "v2"


def test_manifest_listing_a_missing_file_is_an_error(tmp_path):
    (tmp_path / "t").mkdir()
    (tmp_path / "t" / "a.png").write_bytes(png_bytes(drawing("target", 1)))
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,group\na.png,x\ngone.png,y\n")
    data = {"versions": ["v1"], "sources": [source("t", tmp_path / "t", versions=["v1"], manifest=str(manifest))]}
    with pytest.raises(UserError, match="gone.png"):
        ingest(data, CFG)


def test_parallel_ingest_gives_the_same_tables(tmp_path):
    messy_folder(tmp_path / "raw")
    for i in range(30):  # enough files for the worker pool to be used
        (tmp_path / "raw" / f"d{i}.png").write_bytes(png_bytes(drawing("target", 100 + i)))
    data = {"versions": ["v1"], "sources": [source("a", tmp_path / "raw", versions=["v1"])]}
    one = ingest(data, CFG)
    two = ingest(data, CFG.model_copy(update={"workers": 2}))
    pd.testing.assert_frame_equal(one[0], two[0])
    pd.testing.assert_frame_equal(one[1], two[1])
    assert len(one[0]) == 36 and len(one[1]) == 5
