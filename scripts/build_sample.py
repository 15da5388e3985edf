#!/usr/bin/env python3
"""Rebuild the embedded sample dataset (data/sample/) from pinned npm packages.

The sample stands in for the original project's data, which cannot be
redistributed: openly licensed illustrations of people by distinct "artists".
Emoji sets draw the same subjects (people, professions, gestures, faces, in
several skin tones) by different design teams:

    role    source    npm package (pinned below)            licence
    target  twemoji   emoji-datasource-twitter, img/twitter/64   CC-BY-4.0
    other   noto      emoji-datasource-google,  img/google/64    Apache-2.0
    other   openmoji  openmoji, color/svg                        CC-BY-SA-4.0
    other   fluent    fluentui-emoji, icons/modern               MIT

Metadata (category, subcategory, skin tones, added_in) comes from
emoji-datasource's emoji.json. See docs/SAMPLE.md for the selection rules.

Outputs (under --out, default data/sample):
    emoji-people.zip   <source>/<codepoints>.png, 64x64 RGB, plus manifest.csv
                       and ATTRIBUTION.md at the root; stored (no deflate),
                       sorted, fixed timestamps
    manifest.csv       file,source,role,group,first_version,license
    ATTRIBUTION.md     sources, authors, licences
and the contact sheet (--contact-sheet, default docs/sample_contact_sheet.png).

Running it twice gives byte-identical files (given the pinned Pillow and
resvg-py versions): no randomness except sha256 hashes salted with SEED.

Usage:
    python scripts/build_sample.py                     # npm install into a temp dir
    python scripts/build_sample.py --npm-dir /tmp/sample-npm --install
    python scripts/build_sample.py --npm-dir /tmp/sample-npm --out /tmp/a \
        --contact-sheet /tmp/a/sheet.png
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent

# Exact npm versions. Changing any of them changes the sample.
PACKAGES = {
    "emoji-datasource": "16.0.0",          # metadata (emoji.json), MIT
    "emoji-datasource-twitter": "16.0.0",  # Twemoji 16.0.1 PNGs, CC-BY-4.0
    "emoji-datasource-google": "16.0.0",   # Noto Emoji 2.048 PNGs, Apache-2.0
    "openmoji": "17.0.0",                  # OpenMoji SVGs, CC-BY-SA-4.0
    "fluentui-emoji": "1.3.0",             # Microsoft Fluent Emoji SVGs, MIT
    "spdx-license-list": "6.12.0",         # full Apache-2.0 text, CC0-1.0
}

SEED = "emoji-people-sample/seed-2024"  # salt of every hash-based choice
SIZE = 64                 # every image is SIZE x SIZE RGB
CAP_TARGET = 3            # at most this many twemoji images per group
V1_TARGET_IMAGES = 650    # v1 = oldest groups (by added_in) up to ~this many images
PNG_COMPRESS_LEVEL = 9
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
ZIP_NAME = "emoji-people.zip"
FLUENT_STYLE = "modern"   # the Fluent "Color" style; "flat" and "high-contrast" unused

SOURCES = ("twemoji", "noto", "openmoji", "fluent")
ROLE = {"twemoji": "target", "noto": "other", "openmoji": "other", "fluent": "other"}
LICENSE = {"twemoji": "CC-BY-4.0", "noto": "Apache-2.0",
           "openmoji": "CC-BY-SA-4.0", "fluent": "MIT"}
POOL = ("openmoji", "fluent")
MANIFEST_COLUMNS = ["file", "source", "role", "group", "first_version", "license"]

# --- subject selection ------------------------------------------------------
# People & Body, plus the face-* subcategories of Smileys & Emotion except
# face-costume (poo, ghost, alien, robot...: not people). Hearts, emotion
# symbols, cat and monkey faces are left out by construction.
EXCLUDED_SUBCATEGORIES = {"face-costume"}

# --- group key --------------------------------------------------------------
SKIN_TONES = {"1f3fb", "1f3fc", "1f3fd", "1f3fe", "1f3ff"}
VS16 = "fe0f"
ZWJ = "200d"
# ZWJ components that only mark gender (female/male sign) or direction (facing right).
DROPPED_COMPONENTS = {"2640", "2642", "27a1"}
# Gendered base characters -> their gender-neutral form.
NEUTRAL_BASE = {
    "1f468": "1f9d1", "1f469": "1f9d1",   # man, woman -> person
    "1f466": "1f9d2", "1f467": "1f9d2",   # boy, girl -> child
    "1f474": "1f9d3", "1f475": "1f9d3",   # old man, old woman -> older person
    "1f934": "1fac5", "1f478": "1fac5",   # prince, princess -> person with crown
    "1f930": "1fac4", "1fac3": "1fac4",   # pregnant woman/man -> pregnant person
    "1f57a": "1f483",                     # man dancing -> woman dancing
    "1f385": "1f9d1-200d-1f384",          # Santa Claus -> Mx Claus
    "1f936": "1f9d1-200d-1f384",          # Mrs. Claus -> Mx Claus
}
HOLDING_HANDS = "1f9d1-200d-1f91d-200d-1f9d1"
SEQUENCE_ALIASES = {
    "1f46b": HOLDING_HANDS, "1f46c": HOLDING_HANDS, "1f46d": HOLDING_HANDS,
    "1faf1-200d-1faf2": "1f91d",                       # handshake, mixed tones
    "1f9d1-200d-2764-200d-1f48b-200d-1f9d1": "1f48f",  # kiss: X, Y
    "1f9d1-200d-2764-200d-1f9d1": "1f491",             # couple with heart: X, Y
}
FAMILY = "1f46a"


def group_key(unified: str) -> str:
    """Codepoint sequence of the base drawing: skin tones, VS16, gender and
    direction modifiers removed, gendered people mapped to the neutral form.
    Man cook / woman cook / cook in any skin tone -> '1f9d1-200d-1f373'."""
    cps = [c for c in unified.lower().split("-") if c not in SKIN_TONES and c != VS16]
    parts, cur = [], []
    for c in cps:
        if c == ZWJ:
            parts.append(cur)
            cur = []
        else:
            cur.append(c)
    parts.append(cur)
    parts = [p for p in parts if p and not (len(p) == 1 and p[0] in DROPPED_COMPONENTS)]
    parts = [NEUTRAL_BASE.get(p[0], p[0]) if len(p) == 1 else "-".join(p) for p in parts]
    key = "-200d-".join(parts)
    key = SEQUENCE_ALIASES.get(key, key)
    pieces = key.split("-200d-")
    if len(pieces) >= 2 and set(pieces) <= {"1f9d1", "1f9d2"} and "1f9d2" in pieces:
        key = FAMILY  # any family: adults and children
    return key


# --- Fluent: kebab-case CLDR names -> codepoints ------------------------------
FLUENT_TONES = {"1F3FB": "light", "1F3FC": "medium-light", "1F3FD": "medium",
                "1F3FE": "medium-dark", "1F3FF": "dark"}
# CLDR name (kebab) -> Fluent file stem, where Microsoft's names differ from CLDR.
FLUENT_ALIASES = {
    "enraged-face": "pouting-face",
    "face-with-crossed-out-eyes": "knocked-out-face",
    "smiling-face-with-open-hands": "hugging-face",
    "person-blond-hair": "person-blonde-hair",
    "man-blond-hair": "man-blonde-hair",
    "woman-blond-hair": "woman-blonde-hair",
    "deaf-person": "person-deaf",
    "deaf-man": "man-deaf",
    "deaf-woman": "woman-deaf",
    "merperson": "person-merpeople",
    "merman": "man-merpeople",
    "mermaid": "woman-merpeople",
    "people-with-bunny-ears": "person-with-bunny-ears",
    "men-with-bunny-ears": "man-with-bunny-ears",
    "women-with-bunny-ears": "woman-with-bunny-ears",
    "people-wrestling": "person-wrestling",
    "men-wrestling": "man-wrestling",
    "women-wrestling": "woman-wrestling",
    "elf": "person-elf",
    "fairy": "person-fairy",
    "genie": "person-genie",
    "mage": "person-mage",
    "superhero": "person-superhero",
    "supervillain": "person-supervillain",
    "vampire": "person-vampire",
    "zombie": "person-zombie",
}

# Subjects shown first on the contact sheet (group keys), if a source has them.
CONTACT_SHEET_GROUPS = [
    "1f9d1-200d-1f373",   # cook
    "1f9d1-200d-2695",    # health worker
    "1f9d1-200d-1f3a8",   # artist
    "1f9d1-200d-1f680",   # astronaut
    "1f9d1-200d-1f692",   # firefighter
    "1f9d1-200d-1f33e",   # farmer
    "1f9d1-200d-1f3eb",   # teacher
    "1f9d1-200d-1f4bb",   # technologist
    "1f9d1-200d-1f52c",   # scientist
    "1f9d1-200d-1f527",   # mechanic
    "1f9d1-200d-1f3a4",   # singer
    "1f9d1-200d-2708",    # pilot
    "1f477",              # construction worker
    "1f46e",              # police officer
    "1f482",              # guard
    "1f575",              # detective
]
CONTACT_PER_ROW = 8


class BuildError(Exception):
    """A problem the user can fix; printed as one line, no traceback."""


def h(*parts: str) -> str:
    return hashlib.sha256("|".join((SEED,) + parts).encode()).hexdigest()


def version_tuple(v: str) -> tuple[int, ...]:
    return tuple(int(x) for x in v.split("."))


# --- npm --------------------------------------------------------------------

def npm_install(prefix: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise BuildError("npm not found on PATH: install Node.js/npm, or pass --npm-dir "
                         "with the packages already installed")
    specs = [f"{name}@{ver}" for name, ver in PACKAGES.items()]
    print(f"npm install --prefix {prefix} {' '.join(specs)}", file=sys.stderr)
    proc = subprocess.run(
        [npm, "install", "--prefix", str(prefix), "--no-audit", "--no-fund",
         "--ignore-scripts", "--no-save", "--no-package-lock", *specs],
        capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).splitlines() if ln.strip()]
        last = lines[-1] if lines else f"exit status {proc.returncode}"
        raise BuildError(f"npm install failed: {last}")


def package_dirs(npm_dir: Path) -> dict[str, Path]:
    dirs = {}
    for name, ver in PACKAGES.items():
        d = npm_dir / "node_modules" / name
        pj = d / "package.json"
        if not pj.is_file():
            raise BuildError(f"npm package {name}@{ver} not found in {npm_dir}/node_modules "
                             f"(run with --install, or: npm install --prefix {npm_dir} {name}@{ver})")
        got = json.loads(pj.read_text(encoding="utf-8")).get("version")
        if got != ver:
            raise BuildError(f"npm package {name} in {d} is version {got}, expected {ver}")
        dirs[name] = d
    return dirs


def need_file(path: Path, what: str) -> Path:
    if not path.is_file():
        raise BuildError(f"missing {what}: {path}")
    return path


def need_dir(path: Path, what: str) -> Path:
    if not path.is_dir():
        raise BuildError(f"missing {what}: {path}")
    return path


# --- rendering --------------------------------------------------------------

def _imports():
    try:
        import resvg_py  # noqa: F401
        from PIL import Image  # noqa: F401
    except ImportError as e:
        raise BuildError(f"missing Python package ({e.name}): "
                         "pip install -r scripts/requirements-sample.txt") from None


def to_rgb64(rgba):
    """The one pipeline every source goes through: RGBA 64x64 -> over white -> RGB."""
    from PIL import Image
    rgba = rgba.convert("RGBA")
    if rgba.size != (SIZE, SIZE):
        raise BuildError(f"image is {rgba.size}, expected {SIZE}x{SIZE}")
    white = Image.new("RGBA", (SIZE, SIZE), (255, 255, 255, 255))
    rgb = Image.alpha_composite(white, rgba).convert("RGB")
    # fresh image: no info/metadata carried over from the source file
    return Image.frombytes("RGB", (SIZE, SIZE), rgb.tobytes())


def load_png(path: Path):
    from PIL import Image
    with Image.open(path) as im:
        im.load()
        return to_rgb64(im)


def render_svg(path: Path):
    import resvg_py
    from PIL import Image
    try:
        png = resvg_py.svg_to_bytes(svg_path=str(path), width=SIZE, height=SIZE,
                                    skip_system_fonts=True)
    except Exception as e:  # resvg raises ValueError on bad SVG
        raise BuildError(f"cannot render {path}: {e}") from None
    with Image.open(io.BytesIO(bytes(png))) as im:
        im.load()
        return to_rgb64(im)


def encode_png(im) -> bytes:
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=PNG_COMPRESS_LEVEL, optimize=False)
    return buf.getvalue()


# --- metadata ---------------------------------------------------------------

@dataclass(frozen=True)
class Member:
    unified: str     # lowercase codepoints, e.g. 1f468-1f3fb-200d-1f373
    image: str       # emoji-datasource image file name
    added_in: tuple
    has_twitter: bool
    has_google: bool
    tone: str | None  # emoji-datasource skin_variations key, None for the base


def load_subjects(ds: Path) -> tuple[dict[str, list[Member]], dict[str, dict]]:
    data = json.loads(need_file(ds / "emoji.json", "emoji-datasource emoji.json")
                      .read_text(encoding="utf-8"))
    groups: dict[str, list[Member]] = defaultdict(list)
    entry_of: dict[str, dict] = {}
    for e in data:
        cat, sub = e["category"], e["subcategory"]
        people = cat == "People & Body"
        face = (cat == "Smileys & Emotion" and sub.startswith("face-")
                and sub not in EXCLUDED_SUBCATEGORIES)
        if not (people or face):
            continue
        variants = [(None, e)] + sorted((e.get("skin_variations") or {}).items())
        for tone, v in variants:
            m = Member(unified=v["unified"].lower(), image=v["image"],
                       added_in=version_tuple(v.get("added_in") or e["added_in"]),
                       has_twitter=bool(v.get("has_img_twitter")),
                       has_google=bool(v.get("has_img_google")), tone=tone)
            groups[group_key(m.unified)].append(m)
            entry_of[m.unified] = e
    if not groups:
        raise BuildError("emoji.json has no People & Body entries: unexpected format")
    return dict(groups), entry_of


def kebab(name: str) -> str:
    name = name.lower()
    for ch in "’'“”":
        name = name.replace(ch, "")
    return re.sub(r"[^a-z0-9]+", "-", name).strip("-")


def strip_vs16(unified: str) -> str:
    return "-".join(c for c in unified.lower().split("-") if c != VS16)


class Sources:
    """Where each source's file for a member is, if it has one."""

    def __init__(self, pkgs: dict[str, Path], entry_of: dict[str, dict]):
        self.tw_dir = need_dir(pkgs["emoji-datasource-twitter"] / "img/twitter/64",
                               "Twemoji 64px images")
        self.go_dir = need_dir(pkgs["emoji-datasource-google"] / "img/google/64",
                               "Noto 64px images")
        om_svg = need_dir(pkgs["openmoji"] / "color/svg", "OpenMoji color SVGs")
        self.openmoji = {strip_vs16(p.stem): p for p in sorted(om_svg.glob("*.svg"))}
        om_json = json.loads(need_file(pkgs["openmoji"] / "data/openmoji.json",
                                       "OpenMoji data/openmoji.json").read_text(encoding="utf-8"))
        self.om_meta = {strip_vs16(o["hexcode"]): o for o in om_json}
        fl_dir = need_dir(pkgs["fluentui-emoji"] / "icons" / FLUENT_STYLE,
                          f"Fluent Emoji icons/{FLUENT_STYLE}")
        self.fluent = self._fluent_map(fl_dir, entry_of)

    def _fluent_map(self, fl_dir: Path, entry_of: dict[str, dict]) -> dict[str, Path]:
        files = {p.stem: p for p in fl_dir.glob("*.svg")}
        out: dict[str, Path] = {}
        for unified, e in sorted(entry_of.items()):
            base = strip_vs16(e["unified"])
            meta = self.om_meta.get(base)
            if meta is None:
                continue
            stem = kebab(meta["annotation"])
            stem = FLUENT_ALIASES.get(stem, stem)
            if unified == e["unified"].lower():       # the base emoji
                cands = [f"{stem}-default", stem] if e.get("skin_variations") else [stem]
            else:                                     # a skin-tone variant
                tone = next(k for k, v in e["skin_variations"].items()
                            if v["unified"].lower() == unified)
                if tone not in FLUENT_TONES:          # multi-person mixed tones
                    continue
                cands = [f"{stem}-{FLUENT_TONES[tone]}"]
            for c in cands:
                if c in files:
                    out[unified] = files[c]
                    break
        used = Counter(out.values())
        dup = sorted(str(p.name) for p, n in used.items() if n > 1)
        if dup:
            raise BuildError(f"Fluent name mapping is not one-to-one: {dup[:5]}")
        return out

    def path(self, source: str, m: Member) -> Path | None:
        if source == "twemoji":
            p = self.tw_dir / m.image
            return p if m.has_twitter and p.is_file() else None
        if source == "noto":
            p = self.go_dir / m.image
            return p if m.has_google and p.is_file() else None
        if source == "openmoji":
            return self.openmoji.get(strip_vs16(m.unified))
        if source == "fluent":
            return self.fluent.get(m.unified)
        raise ValueError(source)


# --- selection --------------------------------------------------------------

@dataclass
class Picked:
    source: str
    member: Member
    group: str
    png: bytes
    path: Path


class Picker:
    """Deterministic per-(source, group) choice of members, hash order, no
    two identical images within a source."""

    def __init__(self, sources: Sources, groups: dict[str, list[Member]]):
        self.sources = sources
        self.groups = groups
        self.taken: dict[str, set] = defaultdict(set)       # source -> png sha256
        self.used: dict[tuple, set] = defaultdict(set)      # (source, group) -> unified
        self.cache: dict[Path, bytes] = {}

    def _png(self, source: str, path: Path) -> bytes:
        if path not in self.cache:
            im = load_png(path) if source in ("twemoji", "noto") else render_svg(path)
            self.cache[path] = encode_png(im)
        return self.cache[path]

    def candidates(self, source: str, group: str) -> list[tuple[Member, Path]]:
        out = []
        for m in sorted(self.groups[group], key=lambda m: h(source, group, m.unified)):
            if m.unified in self.used[(source, group)]:
                continue
            p = self.sources.path(source, m)
            if p is not None:
                out.append((m, p))
        return out

    def pick(self, source: str, group: str, k: int) -> list[Picked]:
        got = []
        for m, p in self.candidates(source, group):
            if len(got) == k:
                break
            png = self._png(source, p)
            digest = hashlib.sha256(png).hexdigest()
            if digest in self.taken[source]:
                continue
            self.taken[source].add(digest)
            self.used[(source, group)].add(m.unified)
            got.append(Picked(source, m, group, png, p))
        return got

    def can_pick(self, source: str, group: str) -> bool:
        for _, p in self.candidates(source, group):
            if hashlib.sha256(self._png(source, p)).hexdigest() not in self.taken[source]:
                return True
        return False


def select(sources: Sources, groups: dict[str, list[Member]]) -> list[tuple[Picked, str]]:
    """Return (image, first_version) pairs.

    Per group: t = min(CAP_TARGET, distinct twemoji images) target images and t
    'other' images: t/2 noto and t/2 pool (openmoji or fluent), the odd one
    going to whichever of noto/pool has fewer images so far in that version.
    So the target is exactly half of each version, and every source draws its
    subjects from the same groups.
    """
    picker = Picker(sources, groups)
    first_added = {g: min(m.added_in for m in ms) for g, ms in groups.items()}
    order = sorted(groups, key=lambda g: (first_added[g], h("order", g)))

    target = {g: picker.pick("twemoji", g, CAP_TARGET) for g in order}
    order = [g for g in order if target[g]]
    # v1: the oldest groups, cut where the image count is nearest V1_TARGET_IMAGES
    cum, best, best_diff = 0, 0, None
    for i, g in enumerate(order):
        cum += 2 * len(target[g])
        diff = abs(cum - V1_TARGET_IMAGES)
        if best_diff is None or diff < best_diff:
            best, best_diff = i + 1, diff
    version = {g: ("v1" if i < best else "v2") for i, g in enumerate(order)}

    out: list[tuple[Picked, str]] = []
    count = defaultdict(Counter)  # version -> Counter(source / "pool")
    for g in order:
        v = version[g]
        t = len(target[g])
        out += [(p, v) for p in target[g]]
        count[v]["twemoji"] += t
        n_noto = t // 2
        if t % 2 and count[v]["noto"] <= count[v]["pool"]:
            n_noto += 1
        n_pool = t - n_noto
        pooled = []
        for slot in range(n_pool):
            cands = [s for s in POOL if picker.can_pick(s, g)]
            if not cands:
                n_noto += 1   # no pool drawing of this subject left: noto takes the slot
                continue
            # fewer so far in this version first; ties broken by a seeded hash
            s = min(cands, key=lambda s: (count[v][s], h("pool", g, str(slot), s)))
            pooled += picker.pick(s, g, 1)
            count[v][s] += 1
            count[v]["pool"] += 1
        noto = picker.pick("noto", g, n_noto)
        count[v]["noto"] += len(noto)
        out += [(p, v) for p in noto + pooled]
    return out


# --- outputs ----------------------------------------------------------------

def member_name(p: Picked) -> str:
    return f"{p.source}/{p.member.unified}.png"


def manifest_text(rows: list[dict]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=MANIFEST_COLUMNS, lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


MIT_BODY = """\
Permission is hereby granted, free of charge, to any person obtaining a copy
of this software and associated documentation files (the "Software"), to deal
in the Software without restriction, including without limitation the rights
to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
copies of the Software, and to permit persons to whom the Software is
furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all
copies or substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
SOFTWARE.
"""


def attribution_text(picked: list[Picked], sources: Sources, pkgs: dict[str, Path]) -> str:
    n = Counter(p.source for p in picked)
    authors = Counter()
    for p in picked:
        if p.source == "openmoji":
            meta = sources.om_meta.get(strip_vs16(p.member.unified), {})
            for a in re.split(r"\s*,\s*", meta.get("openmoji_author") or "OpenMoji"):
                if a:
                    authors[a] += 1
    author_lines = "\n".join(f"- {a} ({c})" for a, c in sorted(authors.items(),
                                                               key=lambda kv: (-kv[1], kv[0])))
    spdx = json.loads(need_file(pkgs["spdx-license-list"] / "spdx-full.json",
                                "spdx-license-list spdx-full.json").read_text(encoding="utf-8"))
    apache = spdx["Apache-2.0"]["licenseText"].strip()
    V = PACKAGES
    return f"""\
# Attribution and licences: emoji-people sample

`emoji-people.zip` holds {len(picked)} images of emoji artwork from four openly
licensed emoji sets. Each image keeps the licence of the set it comes from; the
`license` column of `manifest.csv` gives it per file (SPDX identifiers).

Changes made to every image (as the licences ask us to state): rasterised to
{SIZE}x{SIZE} pixels (SVG rendered directly at that size with resvg; the 64 px
vendor PNGs used as they are), alpha composited onto white, saved as RGB PNG
and renamed to its Unicode codepoint sequence (`<source>/<codepoints>.png`).
Built by `scripts/build_sample.py` from the npm packages named below.

## Twemoji (`twemoji/`, {n['twemoji']} images, role: target), CC-BY-4.0

- Source: npm `emoji-datasource-twitter@{V['emoji-datasource-twitter']}`, files
  `img/twitter/64/*.png`, which bundle Twemoji 16.0.1 from the maintained fork
  <https://github.com/jdecked/twemoji> (originally <https://github.com/twitter/twemoji>).
- Copyright 2019 Twitter, Inc and other contributors; the fork is maintained by
  jdecked and other contributors.
- Graphics licensed under CC BY 4.0 (Creative Commons Attribution 4.0
  International): <https://creativecommons.org/licenses/by/4.0/>.

## Noto Emoji (`noto/`, {n['noto']} images, role: other, the look-alike), Apache-2.0

- Source: npm `emoji-datasource-google@{V['emoji-datasource-google']}`, files
  `img/google/64/*.png`, which bundle Noto Emoji 2.048 from
  <https://github.com/googlefonts/noto-emoji>.
- Copyright Google Inc. / Google LLC and the Noto Emoji contributors. The Noto
  Emoji image resources are licensed under the Apache License, Version 2.0
  (full text at the end of this file); the Noto Emoji font itself (not used
  here) is under the SIL Open Font License 1.1.
  <https://www.apache.org/licenses/LICENSE-2.0>

## OpenMoji (`openmoji/`, {n['openmoji']} images, role: other), CC-BY-SA-4.0

- Source: npm `openmoji@{V['openmoji']}`, files `color/svg/*.svg`.
- All emojis designed by OpenMoji, the open-source emoji and icon project
  (<https://openmoji.org/>, <https://github.com/hfg-gmuend/openmoji>): Benedikt
  Groß, Daniel Utz and the OpenMoji contributors, HfG Schwäbisch Gmünd.
  License: CC BY-SA 4.0 (Creative Commons Attribution-ShareAlike 4.0
  International): <https://creativecommons.org/licenses/by-sa/4.0/>.
- Designers of the OpenMoji images in this sample (from `data/openmoji.json`,
  number of images in brackets):

{author_lines}

- ShareAlike: the `openmoji/` PNGs are adaptations of OpenMoji graphics and are
  themselves licensed CC BY-SA 4.0. If you modify them or build on them and
  share the result, you must share it under CC BY-SA 4.0 (or a compatible
  licence), with this attribution. Shipping them beside differently licensed
  files in one archive (a collection) does not change the other files'
  licences. Whether a model trained on them is an adaptation is not settled;
  drop the `openmoji/` rows from the manifest if that matters to you.

## Microsoft Fluent Emoji (`fluent/`, {n['fluent']} images, role: other), MIT

- Source: npm `fluentui-emoji@{V['fluentui-emoji']}`, files
  `icons/{FLUENT_STYLE}/*.svg` (the "Color" style of Fluent Emoji; the
  `flat` and `high-contrast` styles are not used), a repackaging by Mohammad
  Abu Mattar of <https://github.com/microsoft/fluentui-emoji>. The files are
  named by CLDR name; the build script maps them to codepoints.
- Copyright (c) Microsoft Corporation. Repackaging copyright (c) 2022 Mohammad
  Abu Mattar. Both under the MIT License:

```
MIT License

Copyright (c) Microsoft Corporation.
Copyright (c) 2022 Mohammad Abu Mattar

{MIT_BODY}```

## emoji-datasource (metadata only), MIT

- npm `emoji-datasource@{V['emoji-datasource']}` (<https://github.com/iamcal/emoji-data>):
  `emoji.json` gives category, subcategory, skin tones and `added_in`; the npm
  packages `emoji-datasource-twitter` and `emoji-datasource-google` carry the
  same MIT licence for their code and data. No Apple or Facebook images are
  used (they are not openly licensed).

```
The MIT License (MIT)

Copyright (c) 2013 Cal Henderson

{MIT_BODY}```

## spdx-license-list (licence text only), CC0-1.0

- npm `spdx-license-list@{V['spdx-license-list']}` supplies the Apache-2.0 text below.

## Apache License 2.0 (full text, for the Noto Emoji images)

```
{apache}
```
"""


def write_zip(path: Path, entries: list[tuple[str, bytes]]) -> None:
    tmp = path.with_suffix(".zip.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
        for name, data in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_STORED
            info.create_system = 3
            info.external_attr = 0o100644 << 16
            zf.writestr(info, data)
    tmp.replace(path)


def write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)


def contact_sheet(picked: list[Picked]) -> bytes:
    from PIL import Image, ImageDraw, ImageFont
    scale, pad, label_w, title_h = 2, 8, 190, 34
    tile = SIZE * scale
    rows = []
    for s in SOURCES:
        mine = sorted((p for p in picked if p.source == s), key=member_name)
        chosen, seen = [], set()
        for g in CONTACT_SHEET_GROUPS:
            hit = [p for p in mine if p.group == g]
            if hit and len(chosen) < CONTACT_PER_ROW:
                chosen.append(hit[0])
                seen.add(g)
        rest = sorted((p for p in mine if p.group not in seen),
                      key=lambda p: h("sheet", member_name(p)))
        for p in rest:
            if len(chosen) >= CONTACT_PER_ROW:
                break
            if p.group not in seen:
                chosen.append(p)
                seen.add(p.group)
        rows.append((s, chosen))
    width = label_w + CONTACT_PER_ROW * (tile + pad) + pad
    height = title_h + len(rows) * (tile + pad) + pad
    sheet = Image.new("RGB", (width, height), (255, 255, 255))
    d = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=18)
    small = ImageFont.load_default(size=14)
    d.text((pad, 8), f"emoji-people sample: {SIZE}x{SIZE} RGB images (shown at x{scale}), "
           "one row per source", fill=(0, 0, 0), font=small)
    for r, (s, chosen) in enumerate(rows):
        y = title_h + r * (tile + pad)
        d.text((pad, y + tile // 2 - 20), s, fill=(0, 0, 0), font=font)
        d.text((pad, y + tile // 2 + 4), f"role: {ROLE[s]}  ({LICENSE[s]})",
               fill=(90, 90, 90), font=small)
        for c, p in enumerate(chosen):
            with Image.open(io.BytesIO(p.png)) as im:
                big = im.convert("RGB").resize((tile, tile), Image.NEAREST)
            x = label_w + c * (tile + pad)
            sheet.paste(big, (x, y))
            d.rectangle([x - 1, y - 1, x + tile, y + tile], outline=(200, 200, 200))
    return encode_png(sheet)


def build(npm_dir: Path, out: Path, sheet_path: Path | None) -> dict:
    _imports()
    pkgs = package_dirs(npm_dir)
    groups, entry_of = load_subjects(pkgs["emoji-datasource"])
    sources = Sources(pkgs, entry_of)
    chosen = select(sources, groups)
    picked = [p for p, _ in chosen]
    names = [member_name(p) for p in picked]
    if len(set(names)) != len(names):
        raise BuildError("internal error: duplicate file names in the selection")
    rows = sorted(({"file": member_name(p), "source": p.source, "role": ROLE[p.source],
                    "group": p.group, "first_version": v, "license": LICENSE[p.source]}
                   for p, v in chosen), key=lambda r: r["file"])
    manifest = manifest_text(rows).encode("utf-8")
    attribution = attribution_text(picked, sources, pkgs).encode("utf-8")
    entries = [(member_name(p), p.png) for p in picked]
    entries += [("manifest.csv", manifest), ("ATTRIBUTION.md", attribution)]
    out.mkdir(parents=True, exist_ok=True)
    write_zip(out / ZIP_NAME, entries)
    write_bytes(out / "manifest.csv", manifest)
    write_bytes(out / "ATTRIBUTION.md", attribution)
    if sheet_path is not None:
        write_bytes(sheet_path, contact_sheet(picked))
    return summarize(rows)


def summarize(rows: list[dict]) -> dict:
    summary = {}
    for v in ("v1", "v2"):
        vr = [r for r in rows if v == "v2" or r["first_version"] == "v1"]
        summary[v] = {"images": len(vr), "groups": len({r["group"] for r in vr}),
                      **{s: sum(r["source"] == s for r in vr) for s in SOURCES}}
    return summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--npm-dir", type=Path,
                    help="npm prefix holding node_modules/<package> (default: npm install "
                         "the pinned packages into a temporary directory)")
    ap.add_argument("--install", action="store_true",
                    help="npm install the pinned packages into --npm-dir first")
    ap.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "sample",
                    help="output directory (default: data/sample)")
    ap.add_argument("--contact-sheet", type=Path,
                    default=REPO_ROOT / "docs" / "sample_contact_sheet.png",
                    help="contact sheet PNG path (default: docs/sample_contact_sheet.png)")
    ap.add_argument("--no-contact-sheet", action="store_true")
    args = ap.parse_args(argv)
    sheet = None if args.no_contact_sheet else args.contact_sheet
    try:
        if args.npm_dir is None:
            with tempfile.TemporaryDirectory(prefix="sample-npm-") as tmp:
                npm_install(Path(tmp))
                summary = build(Path(tmp), args.out, sheet)
        else:
            if args.install:
                args.npm_dir.mkdir(parents=True, exist_ok=True)
                npm_install(args.npm_dir)
            summary = build(args.npm_dir, args.out, sheet)
    except BuildError as e:
        print(f"build_sample.py: error: {e}", file=sys.stderr)
        return 1
    for v, s in summary.items():
        print(f"{v}: " + ", ".join(f"{k}={n}" for k, n in s.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
