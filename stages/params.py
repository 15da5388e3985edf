"""Read params.yaml and check every section a stage uses before the stage starts.

Each check names the key, the bad value and what is allowed, in one line.
"""
import re
from pathlib import Path

import yaml

from stages.common import UserError

PARAMS_FILE = "params.yaml"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
BACKBONES = ("vgg16", "resnet50", "mobilenet_v2", "efficientnet_b0")
PROBES = ("grayscale", "hue")


class Bad(Exception):
    """A value that does not fit its spec; the message says what is allowed."""


# --- specs: functions (value) -> value that raise Bad -------------------------

def integer(lo=None, hi=None):
    def check(v):
        if isinstance(v, bool) or not isinstance(v, int):
            raise Bad(f"must be an integer{_range(lo, hi)}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise Bad(f"must be an integer{_range(lo, hi)}")
        return v
    return check


def number(lo, hi, open_lo=False, open_hi=False):
    def check(v):
        ok = not isinstance(v, bool) and isinstance(v, (int, float))
        if ok:
            ok = (v > lo if open_lo else v >= lo) and (v < hi if open_hi else v <= hi)
        if not ok:
            raise Bad(f"must be a number in {'(' if open_lo else '['}{lo}, {hi}{')' if open_hi else ']'}")
        return float(v)
    return check


def fraction():
    return number(0, 1, open_lo=True, open_hi=True)


def choice(*options):
    def check(v):
        if v not in options:
            raise Bad(f"must be one of {', '.join(map(str, options))}")
        return v
    return check


def boolean():
    def check(v):
        if not isinstance(v, bool):
            raise Bad("must be true or false")
        return v
    return check


def name():
    def check(v):
        if not isinstance(v, str) or not NAME.match(v):
            raise Bad("must be a name of letters, digits, '_', '-' or '.'")
        return v
    return check


def text():
    def check(v):
        if not isinstance(v, str) or not v.strip():
            raise Bad("must be a non-empty string")
        return v
    return check


def existing_path():
    def check(v):
        if not isinstance(v, str) or not v:
            raise Bad("must be a path")
        if not Path(v).exists():
            raise Bad("path does not exist")
        return v
    return check


def list_of(spec, nonempty=True):
    def check(v):
        if not isinstance(v, list) or (nonempty and not v):
            raise Bad("must be a non-empty list" if nonempty else "must be a list")
        out = []
        for i, item in enumerate(v):
            try:
                out.append(spec(item))
            except Bad as err:
                raise Bad(f"item {i} ({item!r}) {err}")
        if len(set(map(repr, out))) != len(out):
            raise Bad("must not repeat an item")
        return out
    return check


def weights():
    def check(v):
        if v in ("hed", "imagenet", "none"):
            return v
        if isinstance(v, str) and Path(v).is_file():
            return v
        raise Bad("must be hed, imagenet, none, or the path of an existing weights file")
    return check


def _range(lo, hi):
    if lo is not None and hi is not None:
        return f" from {lo} to {hi}"
    if lo is not None:
        return f" >= {lo}"
    return f" <= {hi}" if hi is not None else ""


# --- the schema of params.yaml ------------------------------------------------

SOURCE = {
    "name": name(), "path": existing_path(), "role": choice("target", "other"),
    "versions": list_of(name()), "subdir": text(), "manifest": existing_path(),
}
SOURCE_OPTIONAL = {"subdir", "manifest"}

TRAIN = {
    "version": name(), "pooling": choice("gap", "style"), "augmented": boolean(),
    "standardize": boolean(), "units": integer(1, 65536), "dropout": number(0, 1, open_hi=True),
    "l2": number(0, 10), "learning_rate": number(0, 1, open_lo=True), "epochs": integer(1, 10000),
    "batch_size": integer(1, 65536), "keep": choice("best", "last"),
}

SCHEMA = {
    "seed": integer(0, 2**31 - 1),
    "data": {"versions": list_of(name()), "sources": "sources"},
    "ingest": {"min_side": integer(1), "max_pixels": integer(1), "workers": integer(1, 256)},
    "split": {"test_fraction": fraction(), "val_fraction": fraction()},
    "preprocess": {"image_size": integer(32, 2048), "resize": choice("pad", "stretch", "crop"),
                   "workers": integer(1, 256)},
    "featurize": {"backbone": choice(*BACKBONES), "weights": weights(), "batch_size": integer(1, 4096),
                  "views": integer(0, 64), "shift": number(0, 0.5), "zoom": number(0, 0.5),
                  "flip": boolean(), "probes": list_of(choice(*PROBES), nonempty=False),
                  "hue_degrees": number(-360, 360)},
    "train_base": TRAIN,
    "train_refined": TRAIN,
    "baseline": {"version": name(), "colour_bins": integer(2, 16), "orientations": integer(2, 180),
                 "edge_threshold": number(0, 1, open_lo=True), "lbp_radii": list_of(integer(1, 64)),
                 "root": boolean(), "C": list_of(number(0, 1e9, open_lo=True)), "max_iter": integer(1, 1000000)},
    "evaluate": {"test_sets": list_of(name()), "threshold_rule": choice("f1", "balanced_accuracy"),
                 "e2e_check": integer(0), "gallery": integer(0, 400)},
}


def load(*sections, path=PARAMS_FILE):
    """Return {section: checked value} for the sections asked for (and always `seed`)."""
    try:
        raw = yaml.safe_load(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run from the project's root folder)")
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {err}".replace("\n", " "))
    if not isinstance(raw, dict):
        raise UserError(f"{path}: must be a mapping of sections")
    unknown = sorted(set(raw) - set(SCHEMA))
    if unknown:
        raise UserError(f"{path}: unknown section {unknown[0]!r} (allowed: {', '.join(SCHEMA)})")
    out = {}
    for section in ("seed", *sections):
        if section not in raw:
            raise UserError(f"{path}: missing section {section!r}")
        out[section] = _check(path, section, SCHEMA[section], raw[section])
    if "data" in out:
        _check_data(path, out["data"])
    for section in ("train_base", "train_refined", "baseline"):
        if section in out and "data" in out and out[section]["version"] not in out["data"]["versions"]:
            _fail(path, f"{section}.version", out[section]["version"],
                  f"must be one of data.versions ({', '.join(out['data']['versions'])})")
    if "evaluate" in out and "data" in out:
        for v in out["evaluate"]["test_sets"]:
            if v not in out["data"]["versions"]:
                _fail(path, "evaluate.test_sets", v, f"must be among data.versions ({', '.join(out['data']['versions'])})")
    return out


def _fail(path, key, value, why):
    raise UserError(f"{path}: {key} = {value!r}: {why}")


def _check(path, key, spec, value):
    if isinstance(spec, dict):
        return _check_mapping(path, key, spec, value, optional=())
    if spec == "sources":
        if not isinstance(value, list) or not value:
            _fail(path, key, value, "must be a non-empty list of sources")
        return [_check_mapping(path, f"{key}[{i}]", SOURCE, s, SOURCE_OPTIONAL) for i, s in enumerate(value)]
    try:
        return spec(value)
    except Bad as err:
        _fail(path, key, value, str(err))


def _check_mapping(path, key, schema, value, optional):
    if not isinstance(value, dict):
        _fail(path, key, value, f"must be a mapping with keys {', '.join(schema)}")
    for k in value:
        if k not in schema:
            raise UserError(f"{path}: unknown key {key}.{k} (allowed: {', '.join(schema)})")
    out = {}
    for k, spec in schema.items():
        if k not in value:
            if k in optional:
                continue
            raise UserError(f"{path}: missing key {key}.{k}")
        out[k] = _check(path, f"{key}.{k}", spec, value[k])
    return out


def _check_data(path, data):
    versions = data["versions"]
    names = [s["name"] for s in data["sources"]]
    for i, s in enumerate(data["sources"]):
        if names.count(s["name"]) > 1:
            _fail(path, f"data.sources[{i}].name", s["name"], "is used by two sources")
        for v in s["versions"]:
            if v not in versions:
                _fail(path, f"data.sources[{i}].versions", v, f"must be among data.versions ({', '.join(versions)})")
        is_zip = Path(s["path"]).is_file()
        if is_zip and not s["path"].lower().endswith(".zip"):
            _fail(path, f"data.sources[{i}].path", s["path"], "must be a folder or a .zip archive")
    for v in versions:
        roles = {s["role"] for s in data["sources"] if v in s["versions"]}
        if not roles:
            _fail(path, "data.versions", v, "no source belongs to this version")
        if roles != {"target", "other"}:
            missing = ({"target", "other"} - roles).pop()
            _fail(path, "data.versions", v, f"needs a source with role {missing!r}")
