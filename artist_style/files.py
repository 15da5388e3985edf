"""Reading and writing the pipeline's small files (CSV, JSON), with one clear error when one is missing."""
import json
from pathlib import Path

import pandas as pd

from artist_style.errors import UserError


def ensure_parent(path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path)


def write_json(path, data):
    ensure_parent(path).write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")


def write_csv(path, frame):
    frame.to_csv(ensure_parent(path), index=False, lineterminator="\n")


def read_csv(path, **kwargs):
    try:
        return pd.read_csv(path, keep_default_na=False, **kwargs)
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")


def require_dir(folder, what):
    """`folder`, or one clear error naming what it should hold."""
    if not Path(folder).is_dir():
        raise UserError(f"{folder}: no such folder ({what}; run: dvc repro)")
    return str(folder)
