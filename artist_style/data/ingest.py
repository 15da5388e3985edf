"""Ingest: decode-check every file of every source, label it, drop exact duplicates.

The result is one row per unique usable image (IMAGE_COLUMNS) and one row per file not used, with
the reason (REJECTED_COLUMNS).
"""
import hashlib
from collections import Counter

import pandas as pd

from artist_style.data import sources
from artist_style.data.images import Rejected, open_image, to_rgb
from artist_style.data.split import in_version
from artist_style.errors import UserError
from artist_style.parallel import parallel_map

LABELS = {"target": 1, "other": 0}
IMAGE_COLUMNS = ["id", "label", "role", "source", "group", "versions", "width", "height",
                 "mode", "format", "frames", "path", "member"]
REJECTED_COLUMNS = ["source", "path", "member", "reason", "detail"]


def content_id(data: bytes) -> str:
    """Image id: the first 16 hex digits of the SHA-256 of the file's bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def inspect(task):
    """Read and fully decode one file (runs in a worker process)."""
    path, member, min_side, max_pixels = task
    try:
        data = sources.read(path, member)
    except Exception as err:
        return {"reason": "unreadable", "detail": f"cannot read: {err}"}
    try:
        img = open_image(data, min_side, max_pixels)
        info = {"mode": img.mode, "format": img.format or "", "frames": getattr(img, "n_frames", 1)}
        rgb = to_rgb(img)
    except Rejected as err:
        return {"reason": err.code, "detail": str(err)}
    return {"id": content_id(data), "width": rgb.width, "height": rgb.height, **info}


def read_manifest(source, files, versions):
    """{file: row} for this source's files from its manifest; checks what the rows say."""
    where = source.manifest
    table = pd.read_csv(where, dtype=str, keep_default_na=False)
    for column in ("file", "group"):
        if column not in table.columns:
            raise UserError(f"{where}: manifest needs a {column!r} column")
    prefix = source.subdir.strip("/") + "/" if source.subdir else ""
    rows = table[table["file"].str.startswith(prefix)]
    if rows["file"].duplicated().any():
        raise UserError(f"{where}: file {rows['file'][rows['file'].duplicated()].iloc[0]!r} is listed twice")
    missing = sorted(set(rows["file"]) - set(files))
    if missing:
        raise UserError(f"{where}: lists {len(missing)} file(s) missing from {source.path}, e.g. {missing[0]!r}")
    for row in rows.itertuples():
        first = getattr(row, "first_version", "") or versions[0]
        if first not in versions:
            raise UserError(f"{where}: {row.file}: first_version {first!r} is not in data.versions")
        role = getattr(row, "role", "") or source.role
        if role != source.role:
            raise UserError(f"{where}: {row.file}: role {role!r} but source {source.name!r} has role {source.role!r}")
        if not row.group:
            raise UserError(f"{where}: {row.file}: empty group")
    return {row.file: row for row in rows.itertuples()}


def file_versions(source, row, versions):
    """The versions a file belongs to: its source's, from the manifest's first_version on."""
    first = (getattr(row, "first_version", "") if row is not None else "") or versions[0]
    return [v for v in versions if v in source.versions and versions.index(v) >= versions.index(first)]


def ingest(data, cfg):
    """(images table, rejected table) of every source in `data` (config.Data), checked per `cfg` (config.Ingest)."""
    versions = data.versions
    tasks, meta = [], []
    for source in data.sources:
        files = sources.list_files(source.path, source.subdir)
        manifest = read_manifest(source, files, versions) if source.manifest else None
        for member in files:
            tasks.append((source.path, member, cfg.min_side, cfg.max_pixels))
            meta.append((source, member, manifest))
    if not tasks:
        raise UserError("no files found in any source of params.yaml data.sources")

    kept, rejected, conflicts = {}, [], []
    results = parallel_map(inspect, tasks, cfg.workers, desc="ingest")
    for (source, member, manifest), result in zip(meta, results):
        where = {"source": source.name, "path": source.path, "member": member}
        row = manifest.get(member) if manifest is not None else None
        if manifest is not None and row is None:
            result = {"reason": "not_in_manifest", "detail": f"not listed in {source.manifest}"}
        if "reason" in result:
            rejected.append({**where, **result})
            continue
        in_versions = file_versions(source, row, versions)
        if not in_versions:
            rejected.append({**where, "reason": "no_version", "detail": "belongs to no dataset version"})
            continue
        first = kept.get(result["id"])
        if first is None:
            kept[result["id"]] = {**result, **where, "label": LABELS[source.role], "role": source.role,
                                  "group": row.group if row is not None else result["id"],
                                  "versions": in_versions}
        elif first["role"] != source.role:
            conflicts.append(f"{first['path']}/{first['member']} ({first['role']}) = "
                             f"{source.path}/{member} ({source.role})")
        else:
            first["versions"] = [v for v in versions if v in first["versions"] or v in in_versions]
            rejected.append({**where, "reason": "duplicate",
                             "detail": f"same bytes as {first['source']}:{first['member']} (id {result['id']})"})
    if conflicts:
        raise UserError(f"{len(conflicts)} image(s) appear under both labels, remove one copy of each: "
                        + "; ".join(conflicts[:5]) + (" ..." if len(conflicts) > 5 else ""))
    table = pd.DataFrame(list(kept.values()), columns=IMAGE_COLUMNS)
    table["versions"] = table["versions"].str.join(" ")
    return table, pd.DataFrame(rejected, columns=REJECTED_COLUMNS)


def _count(series):
    return {str(k): int(v) for k, v in sorted(Counter(series).items())}


def summary(table, rejected, versions):
    return {
        "images": len(table),
        "by_source": _count(table["source"]),
        "by_role": _count(table["role"]),
        "by_version": {v: int(in_version(table, v).sum()) for v in versions},
        "rejected": len(rejected),
        "rejected_by_reason": _count(rejected["reason"]),
    }


def check_versions(table, versions, rejected_file):
    """Every dataset version needs usable images of both roles."""
    if table.empty:
        raise UserError(f"no usable image in any source; see {rejected_file}")
    for v in versions:
        roles = set(table.loc[in_version(table, v), "role"])
        if roles != {"target", "other"}:
            raise UserError(f"dataset version {v} has no usable image with role "
                            f"{({'target', 'other'} - roles).pop()!r}; see {rejected_file}")
