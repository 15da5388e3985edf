"""List and read files in a folder (recursively) or a zip archive (without extracting).

Raw inputs are only ever opened for reading.
"""
import os
import zipfile
from pathlib import Path

from artist_style.errors import UserError

_open_zips = {}  # (path, pid) -> ZipFile: a forked worker must not share its parent's file offset


def is_zip(path):
    return Path(path).is_file() and str(path).lower().endswith(".zip")


def list_files(path, subdir=None):
    """Sorted relative paths ('/'-separated) of every file under path (optionally under subdir)."""
    prefix = subdir.strip("/") + "/" if subdir else ""
    if is_zip(path):
        names = [n for n in _zip(path).namelist() if not n.endswith("/")]
    elif Path(path).is_dir():
        root = Path(path)
        names = [p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()]
    else:
        raise UserError(f"{path}: not a folder or a .zip archive")
    found = sorted(n for n in names if n.startswith(prefix))
    if subdir and not found:
        raise UserError(f"{path}: nothing under subdir {subdir!r}")
    return found


def read(path, member):
    """The bytes of one file: member is relative to the folder or archive `path`."""
    if is_zip(path):
        return _zip(path).read(member)
    return (Path(path) / member).read_bytes()


def _zip(path):
    key = (str(path), os.getpid())
    if key not in _open_zips:
        try:
            _open_zips[key] = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as err:
            raise UserError(f"{path}: cannot open the zip archive: {err}")
    return _open_zips[key]
