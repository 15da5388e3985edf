"""scripts/scale_benchmark.py: its datasets are distinct copies of the sample, its fit is right,
and it runs the real stages (one small size, so this is a check that it works, not a timing)."""
import csv
import hashlib
import importlib.util
import io
import subprocess
import sys
import zipfile

import numpy as np
from PIL import Image

from tests.conftest import ROOT

spec = importlib.util.spec_from_file_location("scale_benchmark", ROOT / "scripts/scale_benchmark.py")
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)


def test_copies_differ_in_one_pixel_and_keep_their_group(tmp_path):
    assert bench.build_dataset(tmp_path, 2) == 2 * 1137
    with zipfile.ZipFile(tmp_path / "images.zip") as z:
        names = z.namelist()
        digests = {hashlib.sha256(z.read(n)).hexdigest() for n in names}
        original = np.asarray(Image.open(io.BytesIO(z.read("twemoji/1f3c2-1f3fb.png"))).convert("RGB"), dtype=int)
        copy = np.asarray(Image.open(io.BytesIO(z.read("twemoji/1f3c2-1f3fb~1.png"))).convert("RGB"), dtype=int)
    assert len(names) == len(digests) == 2274
    assert np.count_nonzero(np.abs(original - copy).sum(axis=-1)) == 1
    with open(tmp_path / "manifest.csv", newline="") as f:
        group = {row["file"]: row["group"] for row in csv.DictReader(f)}
    assert set(group) == set(names) and group["twemoji/1f3c2-1f3fb~1.png"] == group["twemoji/1f3c2-1f3fb.png"]


def test_linear_fit_recovers_a_line():
    fixed, rate, misfit = bench.linear_fit([(1000, 2 + 1000 / 500), (4000, 2 + 4000 / 500), (16000, 2 + 16000 / 500)])
    assert abs(fixed - 2) < 1e-9 and abs(rate - 500) < 1e-6 and misfit < 1e-9
    assert bench.linear_fit([(1, 1), (2, 4), (3, 9)])[2] > 0.1  # a parabola is not a line


def test_benchmark_runs_the_stages_on_the_sample(tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "scripts/scale_benchmark.py"), "--sizes", "1", "--image-size",
                          "32", "--probes", "", "--views", "0", "--workdir", str(tmp_path / "work")],
                         capture_output=True, text=True, check=True).stdout
    rows = {" ".join(line.split()[1:-7]): int(line.split()[-7]) for line in out.splitlines() if line.startswith("  1x")}
    assert rows == {"ingest": 1137, "split v1": 651, "split v2": 1137, "preprocess": 1137, "featurize": 1137 + 42,
                    "train_refined": 726 * 3}  # featurize: + the 42 generated pictures; train: v2 train x 3 epochs
    assert not (tmp_path / "work/project-1x").exists()  # removed unless --keep
