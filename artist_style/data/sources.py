"""List and read files in a folder (recursively) or a zip archive (without extracting).

Raw inputs are only ever opened for reading, and only what lies inside a source is read:
- a folder's symbolic links (to files or folders, dangling or looping) are never followed, and
  FIFOs, sockets and devices are never opened: each is listed as a problem with its reason;
- a name that is not valid UTF-8 is a problem too (it could not be written to a CSV and read back);
- a zip member is read through its own ZipInfo (two members may share a name: only the first is
  used, the others are problems; a member named absolute or with `..` is a problem, "outside"), and
  a member or file larger than `max_bytes` is refused from its declared size, before any byte is
  read, and read with a cap in case the declared size lies.
"""
import os
import stat
import zipfile
from pathlib import Path, PurePosixPath

from artist_style.data.images import Rejected
from artist_style.errors import UserError

DEFAULT_MAX_BYTES = 100 * 2**20
_open_zips = {}  # (path, pid) -> (ZipFile, {name: first ZipInfo}): a worker must not share its parent's file offset


def is_zip(path):
    return Path(path).is_file() and str(path).lower().endswith(".zip")


def shown(name):
    """A file name as text that can be printed and written to a CSV: bytes that are not UTF-8 as \\xNN."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def scan(path, subdir=None):
    """(files, problems) under a folder (recursively) or a zip archive, optionally under subdir.

    files: sorted relative paths ('/'-separated) that `read` can open; problems: sorted
    (relative path as shown, reason, detail) for entries that are not read (links, special files,
    names that are not UTF-8, repeated zip member names)."""
    prefix = subdir.strip("/") + "/" if subdir else ""
    if is_zip(path):
        files, problems = _scan_zip(path)
    elif Path(path).is_dir():
        files, problems = [], []
        _scan_folder(Path(path), prefix, files, problems)
    else:
        raise UserError(f"{path}: not a folder or a .zip archive")
    files = sorted(n for n in files if n.startswith(prefix))
    problems = sorted(p for p in problems if p[0].startswith(prefix))
    return files, problems


def list_files(path, subdir=None):
    """Sorted relative paths of the files `scan` finds (problems left out)."""
    return scan(path, subdir)[0]


def _scan_folder(root, prefix, files, problems):
    folder = root / prefix if prefix else root
    if prefix and not folder.is_dir():
        return
    try:
        entries = sorted(os.scandir(folder), key=lambda e: e.name)
    except OSError as err:
        problems.append((shown(prefix.rstrip("/") or "."), "unreadable", f"cannot list the folder: {err.strerror}"))
        return
    for entry in entries:
        name = prefix + entry.name
        try:
            name.encode("utf-8")
        except UnicodeEncodeError:
            what = "folder" if entry.is_dir(follow_symlinks=False) else "file"
            problems.append((shown(name), "bad_name", f"the {what} name is not valid UTF-8: rename it"
                             + (" (its files were not read)" if what == "folder" else "")))
            continue
        if entry.is_symlink():
            problems.append((name, "link", f"a symbolic link (to {shown(os.readlink(entry.path))!r}): "
                                           "links are not followed; copy the file into the source instead"))
        elif entry.is_dir(follow_symlinks=False):
            _scan_folder(root, name + "/", files, problems)
        elif entry.is_file(follow_symlinks=False):
            files.append(name)
        else:
            problems.append((name, "not_a_file", f"not a regular file ({_kind(entry)}): not read"))


def _kind(entry):
    mode = entry.stat(follow_symlinks=False).st_mode
    return ("a FIFO" if stat.S_ISFIFO(mode) else "a socket" if stat.S_ISSOCK(mode)
            else "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a special file")


def _scan_zip(path):
    archive, first = _zip(path)
    files, problems = [], []
    for info in archive.infolist():
        if info.is_dir():
            continue
        if _outside(info.filename):
            problems.append((shown(info.filename), "outside", "the member's path leaves the archive: not read"))
        elif first[info.filename] is not info:
            problems.append((info.filename, "duplicate_name",
                             "the archive holds more than one member with this name: only the first is used"))
        else:
            files.append(info.filename)
    return files, problems


def _outside(member):
    """Whether a relative path leaves its folder or archive: absolute, or with a `..` part."""
    path = PurePosixPath(member.replace("\\", "/"))
    return path.is_absolute() or ".." in path.parts


def read(path, member, max_bytes=DEFAULT_MAX_BYTES):
    """The bytes of one file: member is relative to the folder or archive `path`.

    Raises Rejected (file_too_large, link, not_a_file, outside) rather than read what it should not."""
    if _outside(member):
        raise Rejected("outside", f"{shown(member)!r} is not inside {path}")
    if is_zip(path):
        archive, first = _zip(path)
        info = first.get(member)
        if info is None:
            raise FileNotFoundError(f"no member {member!r} in {path}")
        _check_size(info.file_size, max_bytes, f"declared size {info.file_size:,} bytes")
        with archive.open(info) as f:
            data = f.read(max_bytes + 1)
        _check_size(len(data), max_bytes, "larger than its declared size and")
        return data
    full = os.path.join(path, member)
    root = os.path.realpath(path)
    if not os.path.realpath(full).startswith(root.rstrip(os.sep) + os.sep):
        raise Rejected("link", f"{member!r} leads outside {path} through a symbolic link: not read")
    try:
        fd = os.open(full, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)  # NONBLOCK: a FIFO must not hang us
    except OSError:
        if os.path.islink(full):
            raise Rejected("link", "a symbolic link: links are not followed")
        raise
    with os.fdopen(fd, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise Rejected("not_a_file", "not a regular file: not read")
        _check_size(info.st_size, max_bytes, f"{info.st_size:,} bytes")
        data = f.read(max_bytes + 1)
    _check_size(len(data), max_bytes, "grew while read and")
    return data


def _check_size(size, max_bytes, what):
    if size > max_bytes:
        raise Rejected("file_too_large", f"{what} is more than the limit of {max_bytes / 2**20:g} MB")


def _zip(path):
    key = (str(path), os.getpid())
    if key not in _open_zips:
        try:
            archive = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, EOFError) as err:
            raise UserError(f"{path}: cannot open the zip archive: {err}")
        first = {}
        for info in archive.infolist():
            first.setdefault(info.filename, info)
        _open_zips[key] = archive, first
    return _open_zips[key]
