"""Ingest: decode-check every file of every source, label it, drop exact duplicates, group near-copies.

The result is one row per unique usable image (IMAGE_COLUMNS), one row per file not used, with
the reason (REJECTED_COLUMNS), and one row per image of a cluster of near-copies (NEAR_COLUMNS).
"""
import hashlib
from collections import Counter

import imagehash
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from artist_style.data import sources
from artist_style.data.images import Rejected, open_image, to_rgb
from artist_style.data.split import in_version
from artist_style.errors import UserError
from artist_style.files import read_csv
from artist_style.parallel import parallel_map

LABELS = {"target": 1, "other": 0}
IMAGE_COLUMNS = ["id", "label", "role", "source", "group", "versions", "width", "height",
                 "mode", "format", "frames", "path", "member"]
REJECTED_COLUMNS = ["source", "path", "member", "reason", "detail"]
NEAR_COLUMNS = ["cluster", "id", "source", "member", "phash", "group", "merged_group"]


def content_id(data: bytes) -> str:
    """Image id: the first 16 hex digits of the SHA-256 of the file's bytes."""
    return hashlib.sha256(data).hexdigest()[:16]


def perceptual_hash(rgb) -> str:
    """256-bit DCT perceptual hash (pHash, 16 x 16 lowest frequencies of the 64 x 64 grayscale image)
    as 64 hex digits. Resized or recompressed copies of an illustration differ in 0 to 8 bits (4 or
    fewer in 95% of reposts at a fifth of the size and JPEG quality 40), different illustrations in
    about 128; the 64-bit pHash cannot tell apart the sample's look-alike emoji (docs/DESIGN.md)."""
    return str(imagehash.phash(rgb, hash_size=16))


def inspect(task):
    """Read and fully decode one file (runs in a worker process)."""
    path, member, min_side, max_pixels, max_bytes = task
    try:
        data = sources.read(path, member, max_bytes)
        img = open_image(data, min_side, max_pixels)
        info = {"mode": img.mode, "format": img.format or "", "frames": getattr(img, "n_frames", 1)}
        rgb = to_rgb(img)
    except Rejected as err:
        if err.code == "not_image" and member.lower().endswith(".zip"):  # predict opens these; ingest does not
            return {"reason": err.code, "detail": "a zip archive inside a source is not opened: make it a source "
                                                  "of its own"}
        return {"reason": err.code, "detail": str(err)}
    except Exception as err:
        return {"reason": "unreadable", "detail": f"cannot read: {type(err).__name__}: {err}"}
    return {"id": content_id(data), "width": rgb.width, "height": rgb.height, "phash": perceptual_hash(rgb), **info}


def read_manifest(source, files, problems, versions):
    """{file: row} for this source's files from its manifest; checks what the rows say."""
    where = source.manifest
    table = read_csv(where, what="manifest", dtype=str)
    for column in ("file", "group"):
        if column not in table.columns:
            has = ", ".join(map(str, table.columns))[:100]
            raise UserError(f"{where}: manifest needs a {column!r} column (its header: {has})")
    prefix = source.subdir.strip("/") + "/" if source.subdir else ""
    rows = table[table["file"].str.startswith(prefix)]
    if rows["file"].duplicated().any():
        raise UserError(f"{where}: file {rows['file'][rows['file'].duplicated()].iloc[0]!r} is listed twice")
    missing = sorted(set(rows["file"]) - set(files) - {name for name, _, _ in problems})
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
    """(images, rejected, near-duplicates) tables of every source in `data` (config.Data), checked per
    `cfg` (config.Ingest)."""
    versions = data.versions
    tasks, meta, rejected = [], [], []
    for source in data.sources:
        files, problems = sources.scan(source.path, source.subdir)
        if not files and not problems:
            raise UserError(f"source {source.name!r}: no files in {source.path}"
                            + (f" under {source.subdir!r}" if source.subdir else "")
                            + " (if DVC tracks it: dvc pull, or dvc checkout)")
        rejected += [{"source": source.name, "path": source.path, "member": name, "reason": reason, "detail": detail}
                     for name, reason, detail in problems]
        manifest = read_manifest(source, files, problems, versions) if source.manifest else None
        for member in files:
            tasks.append((source.path, member, cfg.min_side, cfg.max_pixels, cfg.max_bytes))
            meta.append((source, member, manifest))

    kept, conflicts = {}, []
    results = parallel_map(inspect, tasks, cfg.workers, desc="ingest")
    for result, (source, member, manifest) in zip(results, meta):  # results first: its progress bar ends
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
    rows = list(kept.values())
    near = group_near_duplicates(rows, cfg.near_duplicate_distance, versions)
    table = pd.DataFrame(rows, columns=IMAGE_COLUMNS)
    table["versions"] = table["versions"].str.join(" ")
    return table, pd.DataFrame(rejected, columns=REJECTED_COLUMNS), near


def close_pairs(hashes, distance):
    """(i, j) index pairs, i < j, of the hashes ((n, bytes) uint8 array) at most `distance` bits apart.

    Pigeonhole: cut the bytes into distance + 1 blocks; two hashes that close agree on at least one
    block, so only hashes that share a block's value are compared."""
    pairs = set()
    n, width = hashes.shape
    if distance <= 0 or n < 2:
        return pairs
    if distance + 1 > width:
        raise ValueError(f"distance {distance} needs hashes of more than {width} bytes")
    edges = np.linspace(0, width, distance + 2).astype(int)
    for lo, hi in zip(edges[:-1], edges[1:]):
        _, key = np.unique(hashes[:, lo:hi], axis=0, return_inverse=True)
        order = np.argsort(key.ravel(), kind="stable")
        bounds = np.flatnonzero(np.diff(key.ravel()[order])) + 1
        for run in np.split(order, bounds):
            if len(run) < 2:
                continue
            values = hashes[run]
            step = max(1, 2_000_000 // (len(run) * width))
            for start in range(0, len(run), step):
                bits = np.bitwise_count(values[start:start + step, None, :] ^ values[None, :, :]).sum(axis=-1)
                for a, b in zip(*np.nonzero(bits <= distance)):
                    i, j = int(run[start + a]), int(run[b])
                    if i < j:
                        pairs.add((i, j))
    return pairs


def _components(n, pairs):
    """The connected component (a label) of each of n nodes linked by the (i, j) pairs."""
    i, j = (np.array(side, dtype=int) for side in zip(*pairs)) if pairs else (np.zeros(0, dtype=int),) * 2
    return connected_components(coo_matrix((np.ones(len(i)), (i, j)), shape=(n, n)), directed=False)[1]


def group_near_duplicates(rows, distance, versions):
    """Put near-copies (perceptual hashes at most `distance` bits apart) in one group, in place.

    When near-copies come from different groups, those groups merge under the name of the group
    that appears in the earliest version (then the smallest name), so a group of an earlier version
    keeps its name and split. Returns the clusters of near-copies (NEAR_COLUMNS), one row per image."""
    if distance <= 0 or len(rows) < 2:
        return pd.DataFrame([], columns=NEAR_COLUMNS)
    hashes = np.array([np.frombuffer(bytes.fromhex(r["phash"]), dtype=np.uint8) for r in rows])
    pairs = sorted(close_pairs(hashes, distance))
    cluster = _components(len(rows), pairs)
    number = {g: k for k, g in enumerate(sorted({r["group"] for r in rows}))}
    merged = _components(len(number), [(number[rows[i]["group"]], number[rows[j]["group"]]) for i, j in pairs])
    name = {}  # merged component -> (earliest version, group name) of its groups
    for r in rows:
        component, rank = merged[number[r["group"]]], (min(versions.index(v) for v in r["versions"]), r["group"])
        name[component] = min(name.get(component, rank), rank)
    new_group = [name[merged[number[r["group"]]]][1] for r in rows]
    clusters = {}
    for i, c in enumerate(cluster):
        clusters.setdefault(c, []).append(i)
    out = []
    for k, members in enumerate(sorted((m for m in clusters.values() if len(m) > 1), key=min), start=1):
        out += [{"cluster": k, "id": rows[i]["id"], "source": rows[i]["source"], "member": rows[i]["member"],
                 "phash": rows[i]["phash"], "group": rows[i]["group"], "merged_group": new_group[i]}
                for i in members]
    for r, group in zip(rows, new_group):
        r["group"] = group
    return pd.DataFrame(out, columns=NEAR_COLUMNS)


def _count(series):
    return {str(k): int(v) for k, v in sorted(Counter(series).items())}


def summary(table, rejected, near, versions):
    merged = near[near["group"] != near["merged_group"]]
    return {
        "images": len(table),
        "by_source": _count(table["source"]),
        "by_role": _count(table["role"]),
        "by_version": {v: int(in_version(table, v).sum()) for v in versions},
        "rejected": len(rejected),
        "rejected_by_reason": _count(rejected["reason"]),
        "near_duplicates": {"clusters": int(near["cluster"].nunique()), "images": len(near),
                            "groups_merged": int(merged["group"].nunique())},
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
