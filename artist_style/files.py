"""Reading and writing the pipeline's small files (CSV, JSON), with one clear error when one is missing
or unreadable. Every file is written atomically: to a temporary file beside it, then renamed over it, so
a reader never sees half a file, even after kill -9."""
import json
import os
import zipfile
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from artist_style.errors import UserError, first_line


def ensure_parent(path):
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return Path(path)


@contextmanager
def atomic(path):
    """Yield a temporary path beside `path`; when the block ends without an error, rename it to `path`."""
    target = ensure_parent(path)
    temp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        yield temp
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


def refuse_overlaps(paths):
    """A UserError when two of a command's paths ([(option, path)]) are the same or one lies inside the
    other: a stage would overwrite its own input or another output."""
    resolved = [(option, path, Path(path).resolve()) for option, path in paths]
    for i, (a, path_a, full_a) in enumerate(resolved):
        for b, path_b, full_b in resolved[i + 1:]:
            if full_a == full_b or full_a in full_b.parents or full_b in full_a.parents:
                raise UserError(f"{a} {path_a} and {b} {path_b} overlap (the same path, or one inside the "
                                "other): give each its own path")


def write_json(path, data):
    with atomic(path) as temp:
        temp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    try:
        return json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise UserError(f"{path}: file not found (run the stage that makes it: dvc repro)")
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise UserError(f"{path}: not a readable JSON file: {first_line(err)}")


def write_csv(path, frame):
    try:
        with atomic(path) as temp:
            frame.to_csv(temp, index=False, lineterminator="\n")
    except UnicodeEncodeError as err:
        raise UserError(f"{path}: not written: a value is not valid UTF-8 ({first_line(err)})")


def read_csv(path, what="file", **kwargs):
    """A CSV as a DataFrame of strings where not told otherwise (empty cells stay ""), or one UserError
    naming the file: missing, a folder, empty, not UTF-8, or not a CSV."""
    try:
        return pd.read_csv(path, keep_default_na=False, encoding="utf-8", **kwargs)
    except FileNotFoundError:
        raise UserError(f"{path}: {what} not found" + (" (run the stage that makes it: dvc repro)"
                                                      if what == "file" else ""))
    except IsADirectoryError:
        raise UserError(f"{path}: {what} is a folder, not a CSV file")
    except pd.errors.EmptyDataError:
        raise UserError(f"{path}: {what} is empty (a CSV needs at least a header row)")
    except UnicodeDecodeError:
        raise UserError(f"{path}: {what} is not UTF-8 text (save it as a UTF-8 CSV)")
    except (pd.errors.ParserError, ValueError, OSError) as err:
        raise UserError(f"{path}: {what} is not a readable CSV: {first_line(err)}")


def require_dir(folder, what):
    """`folder`, or one clear error naming what it should hold."""
    if not Path(folder).is_dir():
        raise UserError(f"{folder}: no such folder ({what}; run: dvc repro)")
    return str(folder)


FIXED_TIME = (1980, 1, 1, 0, 0, 0)  # zip entries' time in files that must have the same bytes on every run


def write_zip_entry(archive, name, data, compress_type=zipfile.ZIP_DEFLATED):
    """Add `data` to an open ZipFile as `name` with a fixed time and mode, so the archive's bytes depend
    on its contents alone (ZipFile.writestr with a name stamps the current time)."""
    entry = zipfile.ZipInfo(name, date_time=FIXED_TIME)
    entry.compress_type, entry.external_attr = compress_type, 0o644 << 16
    archive.writestr(entry, data)
