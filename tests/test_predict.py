"""predict: CSV rows for good images, error rows for bad ones, explanations, and evaluate's numbers."""
import csv
import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from artist_style.backend import NOISE
from tests.conftest import ROOT, drawing, jpeg, png_bytes, sh


def mixed_folder(folder):
    folder.mkdir()
    good = {"a.png": png_bytes(drawing("target", 1)), "b.jpg": jpeg(drawing("other", 2)),
            "cmyk.jpg": jpeg(Image.new("CMYK", (40, 40), (0, 255, 255, 0))),
            "alpha.png": png_bytes(Image.new("RGBA", (40, 60), (0, 0, 255, 128)))}
    big = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 80, 3), np.uint8)))
    bad = {"zero.png": b"", "text.jpg": b"this is not a picture", "truncated.png": big[:400]}
    for name, data in {**good, **bad}.items():
        (folder / name).write_bytes(data)
    with zipfile.ZipFile(folder / "more.zip", "w") as z:
        z.writestr("inner/c.png", png_bytes(drawing("target", 3)))
    return set(good) | {"more.zip/inner/c.png"}, set(bad)


def test_mixed_folder_predicts_good_files_and_reports_bad_ones(tmp_path, small_model):
    good, bad = mixed_folder(tmp_path / "in")
    result = sh(ROOT, "python", "-m", "artist_style.predict", str(tmp_path / "in"), "--model", str(small_model),
                "--out", str(tmp_path / "out.csv"), "--explain", str(tmp_path / "explain"), check=False)
    assert result.returncode == 1, result.stderr
    table = list(csv.DictReader(open(tmp_path / "out.csv")))
    assert list(table[0]) == ["path", "probability", "predicted", "threshold", "novelty", "novelty_threshold",
                              "error", "explanation"]
    rows = {r["path"].removeprefix(str(tmp_path / "in") + "/"): r for r in table}
    assert set(rows) == good | bad
    for name in good:
        assert 0 <= float(rows[name]["probability"]) <= 1 and rows[name]["error"] == ""
        assert rows[name]["predicted"] == ("target" if float(rows[name]["probability"]) >= 0.42 else "other")
        assert float(rows[name]["threshold"]) == 0.42
        assert rows[name]["novelty"] == rows[name]["novelty_threshold"] == ""  # no novelty file: never unknown
    assert rows["zero.png"]["error"].startswith("empty")
    assert rows["text.jpg"]["error"].startswith("not_image")
    assert rows["truncated.png"]["error"].split(":")[0] in ("truncated", "corrupt")
    for name in bad:
        assert rows[name]["probability"] == rows[name]["explanation"] == "" and f"{name}:" in result.stderr
    assert "8 files: " in result.stderr.splitlines()[-1] and "0 unknown, 3 failed" in result.stderr.splitlines()[-1]
    assert "m.novelty.npz: never unknown" in result.stderr.splitlines()[-1]
    assert not NOISE.search(result.stderr) and "cuInit" not in result.stderr  # TensorFlow's start-up lines

    overlays = {p.name: Image.open(p) for p in (tmp_path / "explain").iterdir()}
    assert set(overlays) == {"a.png", "b.jpg.png", "cmyk.jpg.png", "alpha.png", "more.zip__inner__c.png"}
    assert {name: rows[name]["explanation"] for name in good} == {  # each row names its own overlay
        "a.png": f"{tmp_path}/explain/a.png", "b.jpg": f"{tmp_path}/explain/b.jpg.png",
        "cmyk.jpg": f"{tmp_path}/explain/cmyk.jpg.png", "alpha.png": f"{tmp_path}/explain/alpha.png",
        "more.zip/inner/c.png": f"{tmp_path}/explain/more.zip__inner__c.png"}
    assert overlays["alpha.png"].size == (40 * 7, 60 * 7)  # the image's own size, enlarged x7 to >= 256 px
    assert overlays["a.png"].size == (48 * 6, 48 * 6)
    for img in overlays.values():
        assert np.asarray(img).std() > 5  # not a uniform picture


def squares(folder):
    """Flat white, black and yellow squares (and a wide yellow one): nothing like a drawing."""
    folder.mkdir(exist_ok=True)
    colours = {"white": (255, 255, 255), "black": (0, 0, 0), "yellow": (255, 255, 0)}
    for name, colour in colours.items():
        (folder / f"{name}.png").write_bytes(png_bytes(Image.new("RGB", (64, 64), colour)))
    (folder / "yellow-wide.jpg").write_bytes(jpeg(Image.new("RGB", (300, 200), colours["yellow"])))
    return ["white.png", "black.png", "yellow.png", "yellow-wide.jpg"]


def test_flat_squares_are_unknown_and_new_drawings_are_not(tmp_path, novel_model):
    folder = tmp_path / "in"
    flat = squares(folder)
    drawings = [f"{s}_{i}.png" for s in ("target", "other") for i in range(30, 50)]  # not seen in training
    for name in drawings:
        style, index = name.removesuffix(".png").split("_")
        (folder / name).write_bytes(png_bytes(drawing(style, int(index))))
    result = sh(ROOT, "python", "-m", "artist_style.predict", str(folder), "--model", str(novel_model),
                "--out", str(tmp_path / "out.csv"))
    rows = {r["path"].removeprefix(str(folder) + "/"): r for r in csv.DictReader(open(tmp_path / "out.csv"))}
    limit = float(rows["white.png"]["novelty_threshold"])
    assert limit > 0
    for name in flat:
        assert rows[name]["predicted"] == "unknown", rows[name]
        assert float(rows[name]["novelty"]) > limit and 0 <= float(rows[name]["probability"]) <= 1
    unknown = [name for name in drawings if rows[name]["predicted"] == "unknown"]
    assert len(unknown) <= 2, unknown  # of 40 (their threshold: the 99th percentile of 20 other drawings)
    for name in set(drawings) - set(unknown):
        assert float(rows[name]["novelty"]) <= limit
        assert rows[name]["predicted"] == ("target" if float(rows[name]["probability"]) >= 0.42 else "other")
    assert f"{len(unknown) + 4} unknown, 0 failed" in result.stderr and "novelty threshold" in result.stderr

    explained = sh(ROOT, "python", "-m", "artist_style.predict", str(folder / "white.png"),
                   str(folder / "target_30.png"), "--model", str(novel_model), "--explain", str(tmp_path / "overlays"))
    for row in csv.DictReader(io.StringIO(explained.stdout)):  # --explain gives the same answers, to the digit
        name = row["path"].removeprefix(str(folder) + "/")
        assert row == rows[name] | {"path": row["path"], "explanation": f"{tmp_path}/overlays/{name}"}, name


def test_threshold_option_and_stdout(tmp_path, small_model):
    (tmp_path / "x.png").write_bytes(png_bytes(drawing("target", 4)))
    result = sh(ROOT, "python", "-m", "artist_style.predict", str(tmp_path / "x.png"), "--model", str(small_model),
                "--threshold", "0.999")
    row = next(csv.DictReader(io.StringIO(result.stdout)))
    assert float(row["threshold"]) == 0.999
    assert row["predicted"] == ("target" if float(row["probability"]) >= 0.999 else "other")
    assert "threshold 0.999 from --threshold" in result.stderr


def test_missing_model_is_one_clear_line(tmp_path):
    (tmp_path / "x.png").write_bytes(png_bytes(drawing("target", 4)))
    (tmp_path / "m.json").write_text("{}")
    result = sh(ROOT, "python", "-m", "artist_style.predict", str(tmp_path / "x.png"), "--model",
                str(tmp_path / "m.keras"), check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == f"error: {tmp_path}/m.keras: model file not found (run: dvc repro)"
    assert "Traceback" not in result.stderr


@pytest.mark.skipif(not (ROOT / "models/refined.keras").exists() or not (ROOT / "data/interim/images.csv").exists(),
                    reason="needs the sample's trained model: run `dvc repro` first (CI does)")
def test_predict_reproduces_evaluate_on_the_sample_test_images(tmp_path):
    evaluated = pd.read_csv(ROOT / "plots/evaluate/predictions.csv", dtype={"id": str})
    evaluated = evaluated.query("model == 'refined' and test_set == 'v2_test' and probe == 'original'")
    images = pd.read_csv(ROOT / "data/interim/images.csv", dtype={"id": str}).set_index("id")
    picked = evaluated.sort_values("id").iloc[::6]  # every sixth test image, both classes
    folder = tmp_path / "test_images"
    folder.mkdir()
    with zipfile.ZipFile(ROOT / images.loc[picked["id"].iloc[0], "path"]) as z:
        for image_id in picked["id"]:
            (folder / f"{image_id}.png").write_bytes(z.read(images.loc[image_id, "member"]))
    result = sh(ROOT, "artist-predict", str(folder))  # the console script pip install -e . made
    got = pd.read_csv(io.StringIO(result.stdout))
    got["id"] = got["path"].str.extract(r"([0-9a-f]{16})\.png$")[0]
    merged = picked.merge(got, on="id", suffixes=("_evaluate", "_predict"))
    assert len(merged) == len(picked) >= 40
    assert np.abs(merged["probability_evaluate"] - merged["probability_predict"]).max() < 1e-4
    assert set(merged["label"]) == {0, 1}
    assert np.abs(merged["novelty_evaluate"] - merged["novelty_predict"]).max() < 1e-2 * merged["novelty_predict"].max()
    assert (merged["predicted"] == "unknown").sum() <= 1  # of the 44 test images

    few = [str(path) for path in sorted(folder.iterdir())[:6]]  # --explain (Grad-CAM) answers the same, to the digit
    explained = sh(ROOT, "artist-predict", *few, "--explain", str(tmp_path / "overlays"))
    assert [line.rsplit(",", 1)[0] for line in explained.stdout.splitlines()[1:]] == [
        line.rsplit(",", 1)[0] for line in result.stdout.splitlines()[1:] if line.split(",")[0] in few]
    assert [line.rsplit(",", 1)[1] for line in explained.stdout.splitlines()[1:]] == [
        f"{tmp_path}/overlays/{Path(path).name}" for path in few]


@pytest.mark.skipif(not (ROOT / "models/refined.novelty.npz").exists(),
                    reason="needs the sample's trained model: run `dvc repro` first (CI does)")
def test_the_sample_model_calls_flat_squares_unknown(tmp_path):
    flat = squares(tmp_path / "flat")
    for model in ("refined", "base"):
        result = sh(ROOT, "artist-predict", str(tmp_path / "flat"), "--model", f"models/{model}.keras")
        got = pd.read_csv(io.StringIO(result.stdout)).set_index("path")
        for name in flat:
            row = got.loc[f"{tmp_path}/flat/{name}"]
            assert row["predicted"] == "unknown" and row["novelty"] > row["novelty_threshold"], (model, name)
