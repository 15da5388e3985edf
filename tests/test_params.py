"""params.yaml is checked before a stage runs: a bad value is one line naming the key and what is allowed."""
import copy

import pytest
import yaml

from stages import params
from stages.common import UserError
from tests.conftest import ROOT, sh

GOOD = yaml.safe_load((ROOT / "params.yaml").read_text())


def load_with(tmp_path, change, *sections):
    p = copy.deepcopy(GOOD)
    change(p)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return params.load(*sections, path=str(path))


def error(tmp_path, change, *sections):
    with pytest.raises(UserError) as err:
        load_with(tmp_path, change, *sections)
    return str(err.value)


def test_the_committed_params_are_valid(monkeypatch):
    monkeypatch.chdir(ROOT)
    p = params.load(*[s for s in params.SCHEMA if s != "seed"])
    assert p["split"] == {"test_fraction": 0.2, "val_fraction": 0.2}
    assert [s["role"] for s in p["data"]["sources"]] == ["target", "other", "other", "other"]


def test_unknown_key(tmp_path):
    msg = error(tmp_path, lambda p: p["split"].update(test_fractoin=0.3), "split")
    assert msg.endswith("params.yaml: unknown key split.test_fractoin (allowed: test_fraction, val_fraction)")


def test_unknown_section(tmp_path):
    assert "unknown section 'trian_base'" in error(tmp_path, lambda p: p.update(trian_base={}), "split")


def test_fraction_outside_open_interval(tmp_path):
    for bad in (0, 1, 1.5, -0.1, "0.2"):
        msg = error(tmp_path, lambda p: p["split"].update(test_fraction=bad), "split")
        assert f"split.test_fraction = {bad!r}: must be a number in (0, 1)" in msg


def test_missing_source_path(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    msg = error(tmp_path, lambda p: p["data"]["sources"][1].update(path="data/raw/nope"), "data")
    assert "data.sources[1].path = 'data/raw/nope': path does not exist" in msg


def test_version_no_source_belongs_to(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)
    msg = error(tmp_path, lambda p: p["data"].update(versions=["v1", "v2", "v3"]), "data")
    assert "data.versions = 'v3': no source belongs to this version" in msg


def test_version_without_a_target_source(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)

    def change(p):
        p["data"]["sources"][0]["versions"] = ["v2"]
    assert "data.versions = 'v1': needs a source with role 'target'" in error(tmp_path, change, "data")


def test_bad_choice_lists_the_allowed_values(tmp_path):
    msg = error(tmp_path, lambda p: p["featurize"].update(backbone="vgg19"), "featurize")
    assert "featurize.backbone = 'vgg19': must be one of vgg16, resnet50, mobilenet_v2, efficientnet_b0" in msg
    msg = error(tmp_path, lambda p: p["featurize"].update(weights="missing.h5"), "featurize")
    assert "must be hed, imagenet, none, or the path of an existing weights file" in msg


def test_missing_key_and_wrong_types(tmp_path):
    assert "missing key train_base.epochs" in error(tmp_path, lambda p: p["train_base"].pop("epochs"), "train_base")
    assert "train_base.epochs = 2.5: must be an integer from 1 to 10000" in error(
        tmp_path, lambda p: p["train_base"].update(epochs=2.5), "train_base")
    assert "featurize.flip = 'yes': must be true or false" in error(
        tmp_path, lambda p: p["featurize"].update(flip="yes"), "featurize")


def test_stage_reports_a_bad_param_in_one_line_without_traceback(tiny_project):
    text = (tiny_project / "params.yaml").read_text().replace("test_fraction: 0.2", "test_fraction: 1.5")
    (tiny_project / "params.yaml").write_text(text)
    result = sh(tiny_project, "python", "-m", "stages.split", "v1", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: split.test_fraction = 1.5: must be a number in (0, 1)"
