"""Helpers every stage uses: user-facing errors, CSV/JSON output, hashing."""
import hashlib
import json
import sys
from pathlib import Path

import pandas as pd


class UserError(Exception):
    """A problem with the user's data or params: reported as one line, no traceback."""


def run(main):
    """Run a stage's main(); a UserError becomes one line on stderr and exit status 2."""
    try:
        code = main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    sys.exit(code or 0)


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


def split_folder(splits_dir, section, version):
    """The folder of dataset version `version`'s split lists; a clear error if it was never split."""
    folder = f"{splits_dir}/{version}"
    if not Path(folder).is_dir():
        raise UserError(f"params.yaml: {section}.version = {version!r}: no split {folder} "
                        "(must be one of data.versions, split by dvc repro)")
    return folder


def content_id(data: bytes) -> str:
    """Image id: the first 16 hex digits of the SHA-256 of the file's bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def unit_hash(*parts) -> float:
    """A number in [0, 1) that depends only on the parts (stable across runs and machines)."""
    digest = hashlib.sha256(":".join(str(p) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64



def parallel_map(fn, items, workers=1, desc=None, chunksize=8):
    """fn over items in order, in `workers` processes, with a progress bar on stderr."""
    from multiprocessing import get_context

    from tqdm import tqdm

    bar = dict(total=len(items), desc=desc, unit="img", disable=False, mininterval=2.0)
    if workers <= 1 or len(items) < 2 * chunksize:
        yield from tqdm(map(fn, items), **bar)
        return
    with get_context("spawn").Pool(workers) as pool:
        yield from tqdm(pool.imap(fn, items, chunksize=chunksize), **bar)
