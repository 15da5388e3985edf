"""Shared fixtures: small synthetic images and a throwaway project folder."""
import io
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image, ImageDraw

ROOT = Path(__file__).resolve().parent.parent
os.environ.setdefault("DVC_NO_ANALYTICS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def ctrl_c_as_in_a_terminal():
    """preexec_fn for a process a test will Ctrl-C: SIGINT at its default, unblocked, as in a terminal's
    foreground job. Started from a script in the background (`pytest &`), the tests inherit SIGINT ignored,
    and so would their children: a Ctrl-C would rightly have no effect on them."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def png_bytes(img, **kwargs):
    buf = io.BytesIO()
    img.save(buf, format=kwargs.pop("format", "PNG"), **kwargs)
    return buf.getvalue()


def drawing(style, index, size=48):
    """A small synthetic 'illustration': two artists with different hands (colour, shape, outline)."""
    rng = np.random.default_rng(index + (1000 if style == "target" else 0))
    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    for _ in range(3):
        x, y = rng.integers(4, size - 20, size=2)
        w, h = rng.integers(8, 16, size=2)
        if style == "target":  # warm colours, round shapes, thick dark outline
            colour = tuple(int(c) for c in (rng.integers(200, 256), rng.integers(60, 160), rng.integers(0, 60)))
            draw.ellipse([x, y, x + w, y + h], fill=colour, outline=(30, 20, 10), width=3)
        else:  # cool colours, boxes, no outline
            colour = tuple(int(c) for c in (rng.integers(0, 60), rng.integers(60, 160), rng.integers(200, 256)))
            draw.rectangle([x, y, x + w, y + h], fill=colour)
    return img


def write_drawings(folder, style, start, count, size=48):
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        drawing(style, i, size).save(folder / f"{style}_{i:04d}.png")


def tiny_params(sources, **overrides):
    """params.yaml content for a tiny, fast run (small images, random backbone weights)."""
    with open(ROOT / "params.yaml") as f:
        p = yaml.safe_load(f)
    p["data"]["sources"] = sources
    p["ingest"].update(min_side=16, workers=1)
    p["preprocess"].update(image_size=32, workers=1)
    p["featurize"].update(weights="none", views=1, batch_size=64)
    p["train_base"].update(epochs=3)
    p["train_refined"].update(epochs=4, units=32)
    p["evaluate"].update(e2e_check=4, gallery=8)
    for key, value in overrides.items():
        section, name = key.split(".")
        p[section][name] = value
    return p


@pytest.fixture
def tiny_project(tmp_path):
    """A copy of the project (code, dvc.yaml) with a tiny two-artist dataset in data/raw, as a git+dvc repo."""
    project = tmp_path / "project"
    project.mkdir()
    for name in ("stages", "artist_style", "pyproject.toml", "dvc.yaml", ".dvcignore", ".gitignore"):
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, project / name, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        elif src.exists():
            shutil.copy(src, project / name)
    (project / "data" / "sample").mkdir(parents=True)
    (project / "data" / "sample" / "README.md").write_text("sample not used in this test\n")
    raw = project / "data" / "raw"
    write_drawings(raw / "target_v1", "target", 0, 40)
    write_drawings(raw / "other_v1", "other", 0, 40)
    write_drawings(raw / "target_v2", "target", 40, 30)
    write_drawings(raw / "other_v2", "other", 40, 30)
    sources = [
        {"name": "target_v1", "path": "data/raw/target_v1", "role": "target", "versions": ["v1", "v2"]},
        {"name": "other_v1", "path": "data/raw/other_v1", "role": "other", "versions": ["v1", "v2"]},
        {"name": "target_v2", "path": "data/raw/target_v2", "role": "target", "versions": ["v2"]},
        {"name": "other_v2", "path": "data/raw/other_v2", "role": "other", "versions": ["v2"]},
    ]
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params(sources), sort_keys=False))
    return project


@pytest.fixture(scope="session")
def small_model(tmp_path_factory):
    """A saved end-to-end model (random VGG16 at 32 px, a fitted head) with its .json and threshold."""
    from artist_style.models import network
    folder = tmp_path_factory.mktemp("model")
    backbone = network.build_backbone("vgg16", "none", 32, seed=0)
    images = np.stack([np.asarray(drawing(s, i).resize((32, 32))) for s in ("target", "other") for i in range(20)])
    features = network.build_featurizer("vgg16", backbone).predict(images.astype(np.float32), verbose=0)["style"]
    head = network.build_head(features.shape[1], 8, moments=(features.mean(axis=0), features.var(axis=0)))
    head.compile(optimizer="adam", loss="binary_crossentropy")
    head.fit(features, np.repeat([1.0, 0.0], 20), epochs=20, verbose=0)
    network.export("vgg16", backbone, "style", head).save(folder / "m.keras")
    (folder / "m.json").write_text(json.dumps({"image_size": 32, "resize": "pad", "pooling": "style",
                                                     "backbone": "vgg16", "correlations": 0}))
    (folder / "m.threshold.json").write_text(json.dumps({"threshold": 0.42}))
    return folder / "m.keras"


@pytest.fixture(scope="session")
def novel_model(small_model, tmp_path_factory):
    """small_model with a novelty file: fitted on the pooled features of drawings 0-19 of both hands
    (the head's training images), its threshold on drawings 20-29; drawings from 30 on are new."""
    from artist_style.data.images import fit
    from artist_style.models import network
    from artist_style.models.card import ModelCard
    from artist_style.models.novelty import Novelty
    folder = tmp_path_factory.mktemp("novel")
    for path in small_model.parent.iterdir():
        shutil.copy(path, folder / path.name)
    pooled = network.with_features(network.load_model(str(folder / "m.keras")), {"backbone": "vgg16"})

    def features(indices):
        images = np.stack([fit(drawing(s, i), 32) for s in ("target", "other") for i in indices])
        return pooled.predict(images, verbose=0)[1]
    ModelCard(folder / "m.keras").save_novelty(Novelty.fit(features(range(20)), features(range(20, 30)), 5, 0.99))
    return folder / "m.keras"


def sh(cwd, *cmd, check=True, env=None):
    """Run a command in cwd with this venv's bin first on PATH; return CompletedProcess."""
    full_env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
                "DVC_NO_ANALYTICS": "1", "PYTHONPATH": str(cwd), **(env or {})}
    result = subprocess.run(cmd, cwd=cwd, env=full_env, capture_output=True, text=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def git_init(project, dvc_add=()):
    """git and dvc repository with everything committed; the paths in dvc_add tracked by DVC, not git."""
    sh(project, "git", "init", "-q")
    sh(project, "git", "config", "user.email", "test@example.com")
    sh(project, "git", "config", "user.name", "test")
    sh(project, "dvc", "init", "-q")
    sh(project, "dvc", "config", "core.analytics", "false")
    if dvc_add:
        sh(project, "dvc", "add", "-q", *dvc_add)
    sh(project, "git", "add", "-A")
    sh(project, "git", "commit", "-qm", "tiny project")


# --- images that decoders find awkward -----------------------------------------

def jpeg(img, **kw):
    return png_bytes(img, format="JPEG", quality=95, **kw)


def huge_png(width, height):
    """A PNG whose header declares width x height (with a valid CRC) but holds almost no data."""
    data = bytearray(png_bytes(Image.new("RGB", (8, 8), "red")))
    ihdr = 8 + 8  # signature, then length + b"IHDR"
    data[ihdr:ihdr + 8] = struct.pack(">II", width, height)
    crc = zlib.crc32(bytes(data[ihdr - 4:ihdr + 13])) & 0xFFFFFFFF
    data[ihdr + 13:ihdr + 17] = struct.pack(">I", crc)
    return bytes(data)


def exif_rotated():
    """A 40x20 JPEG, left half red, right half blue, with EXIF orientation 6 (display rotated 90 cw)."""
    img = Image.new("RGB", (40, 20), "red")
    img.paste((0, 0, 255), (20, 0, 40, 20))
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg(img, exif=exif.tobytes())


# --- the report's table, read back ---------------------------------------------

KEYS = ("accuracy", "f1_macro", "roc_auc", "n")


def parse(markdown):
    """{(model, test set, probe): {key: number}} from the report's first markdown table."""
    text = markdown.splitlines()
    start = next(i for i, line in enumerate(text) if line.startswith("|"))
    end = next((i for i in range(start, len(text)) if not text[i].startswith("|")), len(text))
    lines = text[start:end]
    head = [c.strip() for c in lines[0].strip("|").split("|")]
    assert head == ["model", "test set", "probe", "accuracy", "95% interval", "F1 (macro)", "ROC-AUC", "n"]
    table = {}
    for line in lines[2:]:
        cells = [c.strip() for c in line.strip("|").split("|")]
        key = tuple(cells[:3])
        assert key not in table, f"row {key} twice"
        numbers = [float(c) for c in cells[3:4] + cells[5:7]]
        table[key] = dict(zip(KEYS, numbers)) | {"accuracy_95": [float(c) for c in cells[4].split("–")],
                                                 "n": int(cells[7])}
    return table


def expected(results):
    return {(model, test_set, probe): {k: m[k] for k in (*KEYS, "accuracy_95")}
            for model, sets in results.items() for test_set, probes in sets.items() if isinstance(probes, dict)
            for probe, m in probes.items()}


def assert_same(table, results):
    want = expected(results)
    assert set(table) == set(want)
    for key, numbers in want.items():
        for k, value in numbers.items():
            if k == "accuracy_95":
                assert table[key][k] == pytest.approx([round(v, 3) for v in value], abs=1e-9), (key, k)
            else:
                assert table[key][k] == (value if k == "n" else pytest.approx(round(value, 3), abs=1e-9)), (key, k)
