"""params.yaml as typed settings: one pydantic model per section, checked before a stage starts.

Every problem is reported at once, one line each, naming the key, the bad value and what is allowed;
unknown keys are rejected with the allowed ones listed. The enumerations below are the only list of
allowed names: the code that implements them (networks, probes, scoring) imports them from here.
"""
import os
import re
import typing
from pathlib import Path
from typing import Annotated, Literal, Optional

import yaml
from annotated_types import Ge, Gt, Le, Lt
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

from artist_style.errors import UserError

PARAMS_FILE = "params.yaml"

Backbone = Literal["vgg16", "vgg19", "resnet50", "mobilenet_v2", "efficientnet_b0"]
Probe = Literal["grayscale", "hue"]
Pooling = Literal["gap", "style"]
Resize = Literal["pad", "stretch", "crop"]
Role = Literal["target", "other"]
ThresholdRule = Literal["f1", "balanced_accuracy"]
Keep = Literal["best", "last"]
ClassWeight = Literal["none", "balanced"]
Precision = Literal["float32", "bfloat16"]
ViewColour = Literal["none", "grayscale", "hue"]
ModelName = Literal["base", "refined", "baseline"]
NAMED_WEIGHTS = ("bundled", "hed", "imagenet", "none")
MAX_FILE_MB = 4096  # the largest file limit ingest.max_file_mb (and predict's --max-file-mb) may set


def _name(value):
    if not re.match(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", value):
        raise ValueError("must be a name of letters, digits, '_', '-' or '.'")
    return value


def _existing(value):
    if not value or not Path(value).exists():
        raise ValueError("path does not exist")
    return value


def _a_file(value):
    if not Path(value).is_file():
        raise ValueError("must be a CSV file")
    return value


def _relative(value):
    if not value.strip() or ".." in Path(value).parts:
        raise ValueError("must be a non-empty path inside the source, without '..'")
    return value


def _unique(items):
    if len({repr(i) for i in items}) != len(items):
        raise ValueError("must not repeat an item")
    return items


def _none_or_several(items):
    if len(items) == 1:
        raise ValueError("must name no model (no combined model) or two or more")
    return items


def _weights(value):
    if value in NAMED_WEIGHTS or Path(value).is_file():
        return value
    raise ValueError("must be bundled, hed, imagenet, none, or the path of an existing weights file")


Name = Annotated[str, AfterValidator(_name)]
ExistingPath = Annotated[str, AfterValidator(_existing)]
Names = Annotated[list[Name], Field(min_length=1), AfterValidator(_unique)]


class Section(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class Source(Section):
    name: Name
    path: ExistingPath
    role: Role
    versions: Names
    subdir: Optional[Annotated[str, AfterValidator(_relative)]] = None
    manifest: Optional[Annotated[ExistingPath, AfterValidator(_a_file)]] = None


class Data(Section):
    versions: Names
    sources: Annotated[list[Source], Field(min_length=1)]


class Ingest(Section):
    min_side: Annotated[int, Ge(1)]
    max_pixels: Annotated[int, Ge(1)]
    max_file_mb: Annotated[int, Ge(1), Le(MAX_FILE_MB)]
    near_duplicate_distance: Annotated[int, Ge(0), Le(31)]
    workers: Annotated[int, Ge(1), Le(256)]

    @property
    def max_bytes(self):
        return self.max_file_mb * 2**20


class Split(Section):
    test_fraction: Annotated[float, Gt(0), Lt(1)]
    val_fraction: Annotated[float, Gt(0), Lt(1)]


class Preprocess(Section):
    image_size: Annotated[int, Ge(32), Le(2048)]
    resize: Resize
    workers: Annotated[int, Ge(1), Le(256)]


class Featurize(Section):
    backbone: Backbone
    weights: Annotated[str, AfterValidator(_weights)]
    precision: Precision
    batch_size: Annotated[int, Ge(1), Le(4096)]
    views: Annotated[int, Ge(0), Le(64)]
    shift: Annotated[float, Ge(0), Le(0.5)]
    zoom: Annotated[float, Ge(0), Le(0.5)]
    flip: bool
    view_colours: list[ViewColour]
    probes: Annotated[list[Probe], AfterValidator(_unique)]
    hue_degrees: Annotated[float, Ge(-360), Le(360)]
    correlations: Annotated[int, Ge(0), Le(64)]


class Train(Section):
    """train_base and train_refined: a head on cached features."""
    version: Name
    pooling: Pooling
    augmented: bool
    log_features: bool
    standardize: bool
    units: Annotated[int, Ge(1), Le(65536)]
    dropout: Annotated[float, Ge(0), Lt(1)]
    l2: Annotated[float, Ge(0), Le(10)]
    learning_rate: Annotated[float, Gt(0), Le(1)]
    label_smoothing: Annotated[float, Ge(0), Lt(0.5)]
    class_weight: ClassWeight
    epochs: Annotated[int, Ge(1), Le(10000)]
    batch_size: Annotated[int, Ge(1), Le(65536)]
    keep: Keep
    refit: bool
    novelty_neighbours: Annotated[int, Ge(1), Le(1000)]
    novelty_quantile: Annotated[float, Gt(0), Le(1)]


class Baseline(Section):
    version: Name
    colour_bins: Annotated[int, Ge(2), Le(16)]
    orientations: Annotated[int, Ge(2), Le(180)]
    edge_threshold: Annotated[float, Gt(0), Le(1)]
    lbp_radii: Annotated[list[Annotated[int, Ge(1), Le(64)]], Field(min_length=1), AfterValidator(_unique)]
    root: bool
    C: Annotated[list[Annotated[float, Gt(0), Le(1e9)]], Field(min_length=1), AfterValidator(_unique)]
    max_iter: Annotated[int, Ge(1), Le(1000000)]

    def feature_settings(self):
        """The keyword arguments of artist_style.models.classical.features."""
        return {"colour_bins": self.colour_bins, "orientations": self.orientations,
                "edge_threshold": self.edge_threshold, "lbp_radii": list(self.lbp_radii)}


class Evaluate(Section):
    test_sets: Names
    threshold_rule: ThresholdRule
    e2e_check: Annotated[int, Ge(0)]
    gallery: Annotated[int, Ge(0), Le(400)]
    combine: Annotated[list[ModelName], AfterValidator(_unique), AfterValidator(_none_or_several)]


class Params(Section):
    seed: Annotated[int, Ge(0), Le(2**31 - 1)]
    data: Data
    ingest: Ingest
    split: Split
    preprocess: Preprocess
    featurize: Featurize
    train_base: Train
    train_refined: Train
    baseline: Baseline
    evaluate: Evaluate


class _NoAliases(yaml.SafeLoader):
    """YAML without anchors' aliases (nested aliases can expand a few KB into gigabytes) and without a key
    given twice in one mapping (YAML would keep the last silently)."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases (*name) are not allowed",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, typing.Hashable):
                continue  # SafeLoader's own check names it
            if key in seen:
                raise yaml.constructor.ConstructorError(None, None, f"key {key!r} given twice", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load(path=PARAMS_FILE):
    """The checked params (a Params); a UserError listing every problem, one line each."""
    try:
        raw = yaml.load(Path(path).read_text(), Loader=_NoAliases)  # noqa: S506 (a SafeLoader)
    except FileNotFoundError:
        raise UserError(f"{path}: not found (run from the project's root folder)")
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise UserError(f"{path}: not valid YAML: {err}".replace("\n", " "))
    if not isinstance(raw, dict):
        raise UserError(f"{path}: must be a mapping of sections ({', '.join(Params.model_fields)})")
    try:
        params = Params.model_validate(raw)
    except ValidationError as err:
        raise UserError("\n".join(f"{path}: {line}" for line in problems(err, raw)))
    wrong = cross_checks(params)
    if wrong:
        raise UserError("\n".join(f"{path}: {key} = {_show(value)}: {why}" for key, value, why in wrong))
    return params


def problems(err, raw):
    """One line per validation error: key = value: what is allowed."""
    out = []
    for e in err.errors():
        key = _key(e["loc"])
        field, model = _field(e["loc"])
        if e["type"] == "missing":
            out.append(f"missing {'section' if len(e['loc']) == 1 else 'key'} {key}")
        elif e["type"] == "extra_forbidden":
            kind = "section" if len(e["loc"]) == 1 else "key"
            out.append(f"unknown {kind} {key} (allowed: {', '.join(model.model_fields)})")
        elif e["type"] in ("list_type", "too_short"):
            out.append(f"{key} = {_show(e['input'])}: must be a {'non-empty ' if e['type'] == 'too_short' else ''}list")
        elif e["type"] == "value_error":
            out.append(f"{key} = {_show(e['input'])}: {e['msg'].removeprefix('Value error, ')}")
        else:
            out.append(f"{key} = {_show(e['input'])}: {describe(field) or e['msg'].lower()}")
    return out


OUTSIDE = ("is outside the project, so DVC cannot track it: copy it into data/raw/ and run `dvc add data/raw/<name>` "
           "(or `dvc import-url <url or path> data/raw/<name>`), then give data/raw/<name> here")


def cross_checks(p):
    """[(key, value, why)] for what one field alone cannot say: versions, roles, archives."""
    wrong, versions = [], p.data.versions
    names = [s.name for s in p.data.sources]
    for i, s in enumerate(p.data.sources):
        if names.count(s.name) > 1:
            wrong.append((f"data.sources[{i}].name", s.name, "is used by two sources"))
        wrong += [(f"data.sources[{i}].versions", v, f"must be among data.versions ({', '.join(versions)})")
                  for v in s.versions if v not in versions]
        if Path(s.path).is_file() and not s.path.lower().endswith(".zip"):
            wrong.append((f"data.sources[{i}].path", s.path, "must be a folder or a .zip archive"))
    tracked = ingest_data_deps()
    for i, s in enumerate(p.data.sources):
        for key in ("path", "manifest"):
            where = getattr(s, key)
            if where and (Path(where).is_absolute() or os.path.normpath(where).split(os.sep)[0] == ".."):
                wrong.append((f"data.sources[{i}].{key}", where, OUTSIDE))
            elif tracked and where and not any(_under(where, folder) for folder in tracked):
                wrong.append((f"data.sources[{i}].{key}", where,
                              f"is not under {' or '.join(tracked)}, the data dvc.yaml's ingest stage depends on, "
                              "so DVC would not rerun ingest when it changes: move it under data/raw/"))
    for v in versions:
        roles = {s.role for s in p.data.sources if v in s.versions}
        if not roles:
            wrong.append(("data.versions", v, "no source belongs to this version"))
        elif roles != {"target", "other"}:
            wrong.append(("data.versions", v, f"needs a source with role {({'target', 'other'} - roles).pop()!r}"))
    for section in ("train_base", "train_refined", "baseline"):
        version = getattr(p, section).version
        if version not in versions:
            wrong.append((f"{section}.version", version, f"must be one of data.versions ({', '.join(versions)})"))
    wrong += [("evaluate.test_sets", v, f"must be among data.versions ({', '.join(versions)})")
              for v in p.evaluate.test_sets if v not in versions]
    return wrong


def ingest_data_deps(dvc_file="dvc.yaml"):
    """The data paths dvc.yaml's ingest stage depends on; None without a readable dvc.yaml here."""
    try:
        deps = yaml.load(Path(dvc_file).read_text(), Loader=_NoAliases)["stages"]["ingest"]["deps"]  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError, KeyError, TypeError):
        return None
    return [d for d in deps if isinstance(d, str) and not d.endswith(".py")] or None


def _under(path, folder):
    path, folder = os.path.normpath(path), os.path.normpath(folder)
    return path == folder or path.startswith(folder + os.sep)


def describe(field):
    """What a field allows, in words, from its type and bounds (None when there is nothing to say)."""
    if field is None:
        return None
    kind = field.annotation
    while typing.get_origin(kind) is list:
        kind = typing.get_args(kind)[0]
    bounds = {type(m): m for m in field.metadata}
    if typing.get_origin(kind) is Annotated:
        bounds = {type(m): m for m in kind.__metadata__}
        kind = typing.get_args(kind)[0]
    if typing.get_origin(kind) is Literal:
        return f"must be one of {', '.join(map(str, typing.get_args(kind)))}"
    if kind is bool:
        return "must be true or false"
    lo = bounds.get(Ge, bounds.get(Gt))
    hi = bounds.get(Le, bounds.get(Lt))
    lo = None if lo is None else getattr(lo, "ge", getattr(lo, "gt", None))
    hi = None if hi is None else getattr(hi, "le", getattr(hi, "lt", None))
    if kind is int:
        if lo is not None and hi is not None:
            return f"must be an integer from {lo} to {hi}"
        return f"must be an integer >= {lo}" if lo is not None else "must be an integer"
    if kind is float:
        left = "(" if Gt in bounds else "["
        right = ")" if Lt in bounds else "]"
        return f"must be a number in {left}{_num(lo)}, {_num(hi)}{right}"
    if typing.get_origin(field.annotation) is list:
        return "must be a list"
    return None


def _num(x):
    return f"{x:g}" if isinstance(x, float) else str(x)


def _field(loc):
    """(the FieldInfo at loc or None, the model that holds it)."""
    model, field = Params, None
    for part in loc:
        if isinstance(part, int):
            continue
        if model is None or part not in model.model_fields:
            return None, model
        field = model.model_fields[part]
        inner = field.annotation
        while typing.get_origin(inner) in (list, typing.Union, Annotated):
            inner = next((a for a in typing.get_args(inner) if a is not type(None)), None)
        model = inner if isinstance(inner, type) and issubclass(inner, BaseModel) else None
    if field is not None and loc and isinstance(loc[-1], int):  # an item of a list: the item's own type
        return _item_field(field), model
    return field, model


def _item_field(field):
    from pydantic.fields import FieldInfo
    item = typing.get_args(field.annotation)[0] if typing.get_origin(field.annotation) is list else field.annotation
    return FieldInfo.from_annotation(item)


def _key(loc):
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _show(value, limit=60):
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "..."
