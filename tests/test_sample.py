"""Invariants of the committed sample dataset (data/sample/).

These tests read only the committed files; they need neither npm nor the
network. The one rebuild test runs only when SAMPLE_NPM_DIR points at an npm
prefix holding the pinned packages (see docs/SAMPLE.md), otherwise it is skipped.
"""

from __future__ import annotations

import csv
import hashlib
import importlib.util
import io
import os
import re
import subprocess
import sys
import zipfile
from collections import Counter, defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "sample"
ZIP = SAMPLE / "emoji-people.zip"
MANIFEST = SAMPLE / "manifest.csv"
ATTRIBUTION = SAMPLE / "ATTRIBUTION.md"
SHEET = ROOT / "docs" / "sample_contact_sheet.png"
SCRIPT = ROOT / "scripts" / "build_sample.py"

COLUMNS = ["file", "source", "role", "group", "first_version", "license"]
ROLE = {"twemoji": "target", "noto": "other", "openmoji": "other", "fluent": "other"}
LICENSE = {"twemoji": "CC-BY-4.0", "noto": "Apache-2.0",
           "openmoji": "CC-BY-SA-4.0", "fluent": "MIT"}
EXTRA_MEMBERS = {"manifest.csv", "ATTRIBUTION.md"}
CODEPOINTS = r"[0-9a-f]{4,5}(?:-[0-9a-f]{4,5})*"
FILE_RE = re.compile(rf"^(twemoji|noto|openmoji|fluent)/({CODEPOINTS})\.png$")
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}


def load_script():
    """Import scripts/build_sample.py (stdlib-only at import time)."""
    if "build_sample" not in sys.modules:
        spec = importlib.util.spec_from_file_location("build_sample", SCRIPT)
        mod = importlib.util.module_from_spec(spec)
        sys.modules["build_sample"] = mod  # dataclasses look the module up here
        spec.loader.exec_module(mod)
    return sys.modules["build_sample"]


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    with MANIFEST.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def archive():
    with zipfile.ZipFile(ZIP) as zf:
        yield zf


def versions(rows):
    v1 = [r for r in rows if r["first_version"] == "v1"]
    return {"v1": v1, "v2": rows}  # v2 holds every image, v1 the earlier ones


def test_committed_files_exist_and_are_small():
    for p in (ZIP, MANIFEST, ATTRIBUTION, SHEET):
        assert p.is_file(), p
    total = sum(p.stat().st_size for p in (ZIP, MANIFEST, ATTRIBUTION, SHEET))
    assert total < 10 * 1024 * 1024, total


def test_manifest_format(rows):
    raw = MANIFEST.read_bytes()
    assert b"\r" not in raw
    assert raw.decode("utf-8").splitlines()[0] == ",".join(COLUMNS)
    files = [r["file"] for r in rows]
    assert files == sorted(files)
    assert len(files) == len(set(files))
    for r in rows:
        assert all(r[c] for c in COLUMNS), r


def test_manifest_and_archive_list_the_same_files(rows, archive):
    members = [i.filename for i in archive.infolist()]
    assert len(members) == len(set(members))
    images = set(members) - EXTRA_MEMBERS
    assert images == {r["file"] for r in rows}
    assert set(members) & EXTRA_MEMBERS == EXTRA_MEMBERS
    # the copies inside the archive are the committed files
    assert archive.read("manifest.csv") == MANIFEST.read_bytes()
    assert archive.read("ATTRIBUTION.md") == ATTRIBUTION.read_bytes()


def test_archive_is_deterministic_in_form(archive):
    infos = archive.infolist()
    assert [i.filename for i in infos] == sorted(i.filename for i in infos)
    for i in infos:
        assert i.date_time == (1980, 1, 1, 0, 0, 0), i.filename
        assert i.compress_type == zipfile.ZIP_STORED, i.filename
        assert i.external_attr >> 16 == 0o100644, i.filename
    assert archive.testzip() is None


def test_names_sources_roles_licences(rows):
    for r in rows:
        m = FILE_RE.match(r["file"])
        assert m, r["file"]
        source = m.group(1)
        assert r["source"] == source
        assert r["role"] == ROLE[source]
        assert r["license"] == LICENSE[source]
        assert r["first_version"] in ("v1", "v2")


def test_images_are_64x64_rgb_png_and_not_blank(rows, archive):
    white_corner = Counter()
    for r in rows:
        data = archive.read(r["file"])
        assert data[:8] == b"\x89PNG\r\n\x1a\n", r["file"]
        with Image.open(io.BytesIO(data)) as im:
            assert im.format == "PNG"
            assert im.size == (64, 64), r["file"]
            assert im.mode == "RGB", r["file"]
            a = np.asarray(im, dtype=np.float64)
        assert a.std() > 5.0, f"{r['file']} looks blank (std {a.std():.2f})"
        corners = (a[0, 0], a[0, -1], a[-1, 0], a[-1, -1])
        white_corner[r["source"]] += any(c.min() >= 250 for c in corners)
    # composited onto white (not onto black, as a bare RGBA->RGB would): nearly
    # every emoji leaves a corner of background (a few Twemoji fill the canvas)
    n = Counter(r["source"] for r in rows)
    for source in n:
        assert white_corner[source] >= 0.95 * n[source], (source, white_corner[source], n[source])


def test_no_duplicate_images_within_a_label(rows, archive):
    seen: dict[tuple, str] = {}
    for r in rows:
        key = (r["role"], hashlib.sha256(archive.read(r["file"])).hexdigest())
        assert key not in seen, f"{r['file']} duplicates {seen[key]}"
        seen[key] = r["file"]


def test_counts_per_version(rows):
    v = versions(rows)
    assert 600 <= len(v["v1"]) <= 700, len(v["v1"])
    assert 1100 <= len(v["v2"]) <= 1200, len(v["v2"])
    # v1 is a strict subset of v2
    assert {r["file"] for r in v["v1"]} < {r["file"] for r in v["v2"]}


def test_role_and_source_shares(rows):
    for name, vr in versions(rows).items():
        n = len(vr)
        by_source = Counter(r["source"] for r in vr)
        target = sum(r["role"] == "target" for r in vr) / n
        noto = by_source["noto"] / n
        pool = (by_source["openmoji"] + by_source["fluent"]) / n
        assert 0.45 <= target <= 0.55, (name, target)
        assert 0.20 <= noto <= 0.30, (name, noto)
        assert 0.20 <= pool <= 0.30, (name, pool)
        # the pool is split about evenly between its two sets
        assert 0.08 <= by_source["openmoji"] / n <= 0.17, (name, by_source)
        assert 0.08 <= by_source["fluent"] / n <= 0.17, (name, by_source)


def test_group_keys(rows):
    for r in rows:
        g = r["group"]
        assert re.fullmatch(CODEPOINTS, g), r
        cps = set(g.split("-"))
        assert not cps & SKIN_TONES, r
        assert "fe0f" not in cps, r
        assert not {"2640", "2642"} & cps, r


def test_group_keys_match_the_script(rows):
    group_key = load_script().group_key
    for r in rows:
        cps = FILE_RE.match(r["file"]).group(2)
        assert r["group"] == group_key(cps), r
    # variants of one drawing share a key: man/woman/person cook, any skin tone
    cooks = ["1f468-200d-1f373", "1f469-1f3fd-200d-1f373", "1f9d1-1f3ff-200d-1f373"]
    assert {group_key(c) for c in cooks} == {"1f9d1-200d-1f373"}
    assert group_key("1f3c3-1f3fb-200d-2640-fe0f-200d-27a1-fe0f") == "1f3c3"
    assert group_key("1f469-1f3fb-200d-2764-fe0f-200d-1f48b-200d-1f468-1f3ff") == "1f48f"
    assert group_key("1f468-200d-1f469-200d-1f467-200d-1f466") == "1f46a"
    assert group_key("1f600") == "1f600"


def test_groups_are_diverse_and_shared_by_sources(rows):
    v = versions(rows)
    n_groups = {k: len({r["group"] for r in vr}) for k, vr in v.items()}
    assert n_groups["v1"] >= 140, n_groups
    assert n_groups["v2"] >= 250, n_groups
    per_source_group = Counter((r["source"], r["group"]) for r in rows)
    assert max(per_source_group.values()) <= 3, per_source_group.most_common(3)
    # every subject is drawn by the target and by at least one other artist
    sources_of = defaultdict(set)
    for r in rows:
        sources_of[r["group"]].add(r["role"])
    assert all(s == {"target", "other"} for s in sources_of.values())
    # a group lives in one version: v2 adds new subjects, it does not split old ones
    first = defaultdict(set)
    for r in rows:
        first[r["group"]].add(r["first_version"])
    assert all(len(s) == 1 for s in first.values())


def test_attribution_names_every_source(rows):
    text = ATTRIBUTION.read_text(encoding="utf-8")
    script = load_script()
    for needle in ("Twemoji", "Twitter, Inc", "CC BY 4.0",
                   "Noto Emoji", "Google", "Apache License",
                   "OpenMoji", "CC BY-SA 4.0", "ShareAlike",
                   "Fluent Emoji", "Microsoft Corporation", "Permission is hereby granted",
                   "emoji-datasource", "Cal Henderson"):
        assert needle in text, needle
    for name, ver in script.PACKAGES.items():
        assert f"{name}@{ver}" in text, name
    counts = Counter(r["source"] for r in rows)
    for source, n in counts.items():
        assert f"(`{source}/`, {n} images" in text, source


def test_contact_sheet_is_a_png():
    with Image.open(SHEET) as im:
        assert im.format == "PNG"
        w, h = im.size
        assert 600 <= w <= 2400 and 300 <= h <= 1600, im.size


def test_script_fails_with_one_clear_line(tmp_path):
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--npm-dir", str(tmp_path / "nothing"),
         "--out", str(tmp_path / "out"), "--no-contact-sheet"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("build_sample.py: error:"), lines[0]
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "out" / "emoji-people.zip").exists()


def test_rebuild_is_byte_identical(tmp_path):
    npm_dir = os.environ.get("SAMPLE_NPM_DIR")
    if not npm_dir:
        pytest.skip("set SAMPLE_NPM_DIR to an npm prefix with the pinned packages "
                    "(docs/SAMPLE.md) to rebuild the sample offline")
    pytest.importorskip("resvg_py", reason="resvg-py not installed "
                        "(pip install -r scripts/requirements-sample.txt)")
    missing = [n for n in load_script().PACKAGES
               if not (Path(npm_dir) / "node_modules" / n / "package.json").is_file()]
    if missing:
        pytest.skip(f"npm packages missing in {npm_dir}: {', '.join(missing)}")
    out = tmp_path / "out"
    sheet = tmp_path / "sheet.png"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--npm-dir", npm_dir, "--out", str(out),
         "--contact-sheet", str(sheet)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    for built, committed in ((out / "emoji-people.zip", ZIP), (out / "manifest.csv", MANIFEST),
                             (out / "ATTRIBUTION.md", ATTRIBUTION), (sheet, SHEET)):
        assert built.read_bytes() == committed.read_bytes(), committed.name
