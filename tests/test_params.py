"""params.yaml is checked before a stage runs: every bad value is one line naming the key and what is
allowed, all of them at once; the enumerations are the ones the code implements."""
import copy
import typing
from pathlib import Path

import pytest
import yaml

from artist_style import config
from artist_style.data.images import PROBES
from artist_style.errors import UserError
from artist_style.evaluation.scoring import RULES
from artist_style.models.network import BACKBONES
from tests.conftest import ROOT, sh

GOOD = yaml.safe_load((ROOT / "params.yaml").read_text())


@pytest.fixture(autouse=True)
def at_root(monkeypatch):
    monkeypatch.chdir(ROOT)  # the sources' paths are relative to the project


def load_with(tmp_path, change, *sections):
    p = copy.deepcopy(GOOD)
    change(p)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(p))
    return config.load(str(path))


def error(tmp_path, change, *sections):
    with pytest.raises(UserError) as err:
        load_with(tmp_path, change, *sections)
    return str(err.value)


def test_the_committed_params_are_valid():
    p = config.load()
    assert p.split == config.Split(test_fraction=0.2, val_fraction=0.2)
    assert [s.role for s in p.data.sources] == ["target", "other", "other", "other"]
    assert isinstance(p.train_refined.learning_rate, float) and isinstance(p.featurize.views, int)


def test_enumerations_are_the_implemented_ones():
    assert set(typing.get_args(config.Backbone)) == set(BACKBONES)
    assert set(typing.get_args(config.Probe)) == set(PROBES)
    assert set(typing.get_args(config.ThresholdRule)) == set(RULES)


def test_every_problem_is_reported_at_once(tmp_path):
    def change(p):
        p["split"]["test_fraction"] = 2
        p["train_base"]["units"] = 0
        p["featurize"]["colour"] = True
    lines = error(tmp_path, change).splitlines()
    assert len(lines) == 3
    assert lines[0].endswith("params.yaml: split.test_fraction = 2: must be a number in (0, 1)")  # file order
    assert lines[1].endswith("params.yaml: unknown key featurize.colour (allowed: backbone, weights, precision, "
                             "batch_size, views, shift, zoom, flip, view_colours, probes, hue_degrees, correlations)")
    assert lines[2].endswith("params.yaml: train_base.units = 0: must be an integer from 1 to 65536")


def test_yaml_aliases_are_refused_before_they_expand(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n" for p, c in zip("abcdefgh", "bcdefghi"))
    (tmp_path / "params.yaml").write_text(bomb)
    with pytest.raises(UserError, match="aliases .* are not allowed") as err:
        config.load(str(tmp_path / "params.yaml"))
    assert len(str(err.value)) < 300


def test_a_key_given_twice_is_refused_naming_it_and_its_line(tmp_path):
    text = Path("params.yaml").read_text().replace("seed: 2020", "seed: 2020\nseed: 7", 1)
    (tmp_path / "params.yaml").write_text(text)
    with pytest.raises(UserError) as err:
        config.load(str(tmp_path / "params.yaml"))
    message = str(err.value)
    assert "\n" not in message and "key 'seed' given twice" in message and "line 4" in message
    (tmp_path / "params.yaml").write_text("seed: 1\n? [a, b]\n: 2\n")  # a list as a key: YAML's own error
    with pytest.raises(UserError, match="found unhashable key"):
        config.load(str(tmp_path / "params.yaml"))


def test_unknown_key(tmp_path):
    msg = error(tmp_path, lambda p: p["split"].update(test_fractoin=0.3), "split")
    assert msg.endswith("params.yaml: unknown key split.test_fractoin (allowed: test_fraction, val_fraction)")


def test_unknown_section(tmp_path):
    assert "unknown section trian_base (allowed: seed, data, ingest," in error(
        tmp_path, lambda p: p.update(trian_base={}), "split")


def test_fraction_outside_open_interval(tmp_path):
    for bad in (0, 1, 1.5, -0.1, "0.2"):
        msg = error(tmp_path, lambda p, bad=bad: p["split"].update(test_fraction=bad), "split")
        assert f"split.test_fraction = {bad!r}: must be a number in (0, 1)" in msg


def test_missing_source_path(tmp_path):
    msg = error(tmp_path, lambda p: p["data"]["sources"][1].update(path="data/raw/nope"), "data")
    assert "data.sources[1].path = 'data/raw/nope': path does not exist" in msg


def test_version_no_source_belongs_to(tmp_path):
    msg = error(tmp_path, lambda p: p["data"].update(versions=["v1", "v2", "v3"]), "data")
    assert "data.versions = 'v3': no source belongs to this version" in msg


def test_version_without_a_target_source(tmp_path):

    def change(p):
        p["data"]["sources"][0]["versions"] = ["v2"]
    assert "data.versions = 'v1': needs a source with role 'target'" in error(tmp_path, change, "data")


def test_bad_choice_lists_the_allowed_values(tmp_path):
    msg = error(tmp_path, lambda p: p["featurize"].update(backbone="vgg11"), "featurize")
    assert "featurize.backbone = 'vgg11': must be one of vgg16, vgg19, resnet50, mobilenet_v2, efficientnet_b0" in msg
    msg = error(tmp_path, lambda p: p["featurize"].update(weights="missing.h5"), "featurize")
    assert "must be bundled, hed, imagenet, none, or the path of an existing weights file" in msg


def test_missing_key_and_wrong_types(tmp_path):
    assert "missing key train_base.epochs" in error(tmp_path, lambda p: p["train_base"].pop("epochs"), "train_base")
    assert "train_base.epochs = 2.5: must be an integer from 1 to 10000" in error(
        tmp_path, lambda p: p["train_base"].update(epochs=2.5), "train_base")
    assert "featurize.flip = 'yes': must be true or false" in error(
        tmp_path, lambda p: p["featurize"].update(flip="yes"), "featurize")


def test_stage_reports_a_bad_param_in_one_line_without_traceback(tiny_project):
    text = (tiny_project / "params.yaml").read_text().replace("test_fraction: 0.2", "test_fraction: 1.5")
    (tiny_project / "params.yaml").write_text(text)
    result = sh(tiny_project, "python", "-m", "stages.split", "v1", "--images", "data/interim/images.csv",
                "--out", "data/splits/v1", "--metrics", "metrics/split/v1.json", check=False)
    assert result.returncode == 2
    assert result.stderr.strip() == "error: params.yaml: split.test_fraction = 1.5: must be a number in (0, 1)"
