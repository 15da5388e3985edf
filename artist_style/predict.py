"""predict: is each image in the target artist's style? Not a DVC stage: a command for users.

    artist-predict PATH... [--model models/refined.keras] [--out FILE] [--explain DIR]
    python -m artist_style.predict PATH...   (the same)

PATHs are image files, folders (read recursively) or zip archives (read without extracting).
Each image is prepared exactly as the pipeline's preprocess stage prepares it (the same code) at the
model's size and resize mode (models/<name>.json). The CSV (stdout or --out) has one row per file:
path, probability of the target artist, predicted label, threshold, novelty, novelty_threshold, error,
explanation (with --explain: the path of the image's overlay).

predicted is "target" or "other" by the threshold, or "unknown" when the picture is unlike the
model's training images: its novelty (the mean distance of its features to the nearest training
images', models.novelty) is above the model's novelty threshold (models/<name>.novelty.npz, set
on validation). The probability is still written, but the model has no grounds for it: a blank
square, noise or a page of text gets "unknown". A model without a novelty file (trained before
it existed) leaves novelty empty and never answers "unknown".

A file that cannot be read gets an error row and a line on stderr; the others are still predicted.
Exit status: 0 when every file was predicted, 1 when some failed, 2 when nothing could run (bad
model, bad option).
"""
import argparse
import csv
import hashlib
import sys
import tempfile
import typing
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from artist_style.config import MAX_FILE_MB, Backbone, Resize
from artist_style.data import sources
from artist_style.data.images import Rejected, open_image, prepare, to_rgb
from artist_style.errors import UserError, first_line, run
from artist_style.files import atomic
from artist_style.models.card import ModelCard
from artist_style.parallel import parallel_map

RESIZE_MODES = typing.get_args(Resize)
COLUMNS = ["path", "probability", "predicted", "threshold", "novelty", "novelty_threshold", "error", "explanation"]
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")  # a spreadsheet would run such a cell as a formula


def printable(text):
    """Text for one stderr line: control characters (a newline in a file name) escaped."""
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in str(text))


def cell(value):
    """A CSV cell a spreadsheet shows as text: one starting like a formula gets a leading ' (OWASP)."""
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def gather(paths):
    """[(shown path, container, member, explanation file name, error)] for every file under the paths, in
    order. Files that cannot be listed (links in a folder, special files, names that are not UTF-8, a zip
    that does not open, an empty folder) come with an error and no container."""
    out = []

    def listing(container, shown, label):
        try:
            files, problems = sources.scan(container)
        except UserError as err:
            return [(shown, None, None, None, f"bad_zip: {err}")]
        rows = [(f"{shown}/{name}", None, None, None, f"{reason}: {detail}") for name, reason, detail in problems]
        for name in files:
            inner = f"{label}/{name}" if label else name
            if not sources.is_zip(container) and sources.is_zip(Path(container) / name):
                rows += listing(str(Path(container) / name), f"{shown}/{name}", inner)
            else:
                rows.append((f"{shown}/{name}", container, name, inner, None))
        if not files and not problems:
            rows.append((shown, None, None, None, "no_files: nothing to read here"))
        return sorted(rows, key=lambda row: row[0])

    for given in paths:
        path = Path(given)
        shown = sources.shown(str(path))
        if sources.is_zip(path):
            out += listing(given, shown, sources.shown(path.name))
        elif path.is_dir():
            out += listing(given, shown, "")
        else:  # a file named on the command line: read where it is, even through a link the user named
            try:
                real = path.resolve()
            except (RuntimeError, OSError) as err:  # a link that loops
                out.append((shown, None, None, None, f"link: cannot follow it: {first_line(err)}"))
                continue
            out.append((shown, str(real.parent), real.name, sources.shown(path.name), None))
    return out


def protected(files, model_path):
    """The resolved paths predict must never write over: every input (a zip: the archive) and the model's files."""
    paths = {Path(c) if sources.is_zip(c) else Path(c) / m for _, c, m, _, _ in files if c}
    paths |= {Path(model_path), *map(Path, ModelCard(model_path).files())}
    return {path.resolve() for path in paths}


MAX_NAME_BYTES = 200  # file systems allow 255 bytes a name: room for "~n.png"


def overlay_names(labels):
    """One distinct PNG file name per explanation label (d1/x.png and d2/x.png would both be x.png); a name
    too long for a file system keeps its start and a hash of the whole."""
    names, used = [], set()
    for label in labels:
        if label is None:
            names.append(None)
            continue
        base = label.replace("/", "__").removesuffix(".png")
        if len(base.encode()) > MAX_NAME_BYTES:
            digest = hashlib.sha256(base.encode()).hexdigest()[:12]
            base = base.encode()[:MAX_NAME_BYTES - 13].decode(errors="ignore") + "~" + digest
        name, n = base + ".png", 1
        while name in used:
            n += 1
            name = f"{base}~{n}.png"
        used.add(name)
        names.append(name)
    return names


def load(task):
    """Prepared pixels of one file, or the reason it cannot be used (runs in a worker process)."""
    container, member, size, mode, min_side, max_pixels, max_bytes, error = task
    if error:
        return None, error
    try:
        data = sources.read(container, member, max_bytes)
        return prepare(data, size, mode, min_side, max_pixels), None
    except Rejected as err:
        return None, f"{err.code}: {err}"
    except FileNotFoundError:
        return None, "missing: no such file"
    except UserError as err:
        return None, f"bad_zip: {err}"
    except Exception as err:
        return None, f"unreadable: cannot read: {type(err).__name__}: {err}"


def model_settings(model_path, threshold):
    """(meta, threshold, where the threshold came from) for a saved model."""
    card = ModelCard(model_path)
    meta = card.meta()
    if not (isinstance(meta, dict) and isinstance(meta.get("image_size"), int) and meta.get("resize") in RESIZE_MODES
            and meta.get("backbone") in typing.get_args(Backbone)):
        raise UserError(f"{card.meta_path}: not the card of a network (it needs image_size, resize (one of "
                        f"{', '.join(RESIZE_MODES)}) and backbone); --model takes a .keras model made by dvc repro")
    if threshold is not None:
        return meta, threshold, "--threshold"
    return (meta, *card.threshold())


class Predictor:
    """Batches prepared images through the model (and Grad-CAM when explaining); scores their novelty."""

    def __init__(self, model, meta, threshold, novelty, explain_dir, max_bytes):
        from artist_style.models.network import with_features
        self.model, self.threshold, self.explain_dir, self.mode = model, threshold, explain_dir, meta["resize"]
        self.novelty, self.max_bytes = novelty, max_bytes
        self.two_outputs = with_features(model, meta)

    def __call__(self, items):
        """items: [(container, member, explanation name, pixels)] -> (probabilities, novelty scores or None)."""
        batch = np.stack([pixels for *_, pixels in items])
        probs, pooled = self.two_outputs.predict_on_batch(batch)
        probs, scores = probs.ravel(), self.scores(pooled)
        if not self.explain_dir:
            return probs, scores
        from artist_style.evaluation import explain
        # Grad-CAM runs the layers eagerly, which rounds differently in the last digits: the answers
        # come from the same pass with or without --explain, the heatmaps from Grad-CAM
        _, heats, _ = explain.heatmaps(self.model, batch)
        unknown = self.novelty.unknown(scores) if scores is not None else np.zeros(len(probs), bool)
        for (container, member, name, _), heat, p, flag in zip(items, heats, probs, unknown):
            rgb = to_rgb(open_image(sources.read(container, member, self.max_bytes)))
            with atomic(self.explain_dir / name) as temp:  # never through a link, never half a file
                explain.explain_original(rgb, heat, float(p), self.threshold, self.mode, flag).save(temp, format="PNG")
        return probs, scores

    def scores(self, pooled):
        return self.novelty.score(pooled) if self.novelty is not None else None


def writable(folder, what):
    """A UserError unless a file can be made in `folder` (checked by making one)."""
    try:
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        raise UserError(f"{what}: cannot write in {folder}: {err.strerror}")


def output_file(path, keep):
    """--out checked before any work: a new or regular file (not a link, device or pipe), none of the
    paths in `keep` (the inputs, the model), in a folder that exists or can be made and can be written."""
    out = Path(path)
    if out.is_dir():
        raise UserError(f"--out {path}: is a folder; give the name of the CSV file to write")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise UserError(f"--out {path}: exists and is not a regular file (a link, device or pipe); "
                        "give the name of a new CSV file")
    if out.resolve() in keep:
        raise UserError(f"--out {path}: is one of the inputs or the model's files; give another name")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--out {path}: cannot make its folder: {err.strerror}")
    writable(out.parent, f"--out {path}")
    return path


@contextmanager
def output(path):
    """The CSV's stream: stdout, or the file `path` written atomically."""
    if not path:
        yield sys.stdout
        return
    with atomic(path) as temp, open(temp, "w", newline="", encoding="utf-8") as out:
        yield out


def explain_folder(path, names, files, keep):
    """--explain checked before any work: a folder that exists or can be made and written, where no
    overlay (`names`) would replace an input or the model's files (`keep`)."""
    if Path(path).exists() and not Path(path).is_dir():
        raise UserError(f"--explain {path}: is a file; give a folder for the overlay images")
    for name, (shown, *_) in zip(names, files):
        if name and (Path(path) / name).resolve() in keep:
            raise UserError(f"--explain {path}: its overlay {name} would replace the input {shown}; "
                            "give a folder that holds none of the pictures")
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise UserError(f"--explain {path}: cannot make the folder: {err.strerror}")
    writable(path, f"--explain {path}")
    return Path(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="image files, folders or zip archives")
    parser.add_argument("--model", default="models/refined.keras")
    parser.add_argument("--threshold", type=float, help="decision threshold (default: the one chosen on validation)")
    parser.add_argument("--out", help="CSV file to write (default: stdout)")
    parser.add_argument("--explain", metavar="DIR", help="write a Grad-CAM overlay PNG per image into DIR")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="processes decoding images")
    parser.add_argument("--min-side", type=int, default=32)
    parser.add_argument("--max-pixels", type=int, default=40_000_000, help="larger images are refused before decoding")
    parser.add_argument("--max-file-mb", type=int, default=100, help="larger files are refused before reading "
                        f"(at most {MAX_FILE_MB})")
    args = parser.parse_args()
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise UserError(f"--threshold {args.threshold}: must be in (0, 1)")
    for option in ("batch_size", "workers", "min_side", "max_pixels", "max_file_mb"):
        if getattr(args, option) < 1:
            raise UserError(f"--{option.replace('_', '-')} {getattr(args, option)}: must be at least 1")
    if args.max_file_mb > MAX_FILE_MB:
        raise UserError(f"--max-file-mb {args.max_file_mb}: must be at most {MAX_FILE_MB}")
    if not args.out and sys.stdout is None:
        raise UserError("standard output is closed: give --out FILE for the CSV")
    files = gather(args.paths)
    if all(error and error.startswith("no_files") for *_, error in files):
        raise UserError(f"no files to predict in {', '.join(sources.shown(p) for p in args.paths)}")
    if not Path(args.model).exists():
        raise UserError(f"{args.model}: model file not found (run: dvc repro)")
    keep = protected(files, args.model)
    if args.out:
        output_file(args.out, keep)
    names = overlay_names(label for *_, label, _ in files)
    explain_dir = explain_folder(args.explain, names, files, keep) if args.explain else None
    meta, threshold, origin = model_settings(args.model, args.threshold)
    novelty = ModelCard(args.model).novelty()

    from artist_style.models.network import load_model
    model = load_model(args.model)
    size = model.input_shape[1]
    if size != meta["image_size"]:
        raise UserError(f"{args.model}: input size {size} but its .json says {meta['image_size']}")
    max_bytes = args.max_file_mb * 2**20
    predictor = Predictor(model, meta, threshold, novelty, explain_dir, max_bytes)

    tasks = [(c, m, size, meta["resize"], args.min_side, args.max_pixels, max_bytes, e) for _, c, m, _, e in files]
    counts = {"target": 0, "other": 0, "unknown": 0, "failed": 0}
    try:
        with output(args.out) as out:
            predict_all(files, names, tasks, predictor, threshold, csv.writer(out, lineterminator="\n"), counts, args)
    except BrokenPipeError:
        raise
    except OSError as err:  # the disk filled, or a folder became unwritable while predicting
        raise UserError(f"cannot write {err.filename or args.out or 'the output'}: {err.strerror or first_line(err)}")
    about_novelty = (f"novelty threshold {novelty.threshold:.2f}" if novelty is not None else
                     f"no {ModelCard(args.model).novelty_path}: never unknown")
    print(f"predict: {len(files)} files: {counts['target']} target, {counts['other']} other, "
          f"{counts['unknown']} unknown, {counts['failed']} failed (threshold {threshold:.3f} from {origin}; "
          f"{about_novelty}; model {args.model})", file=sys.stderr)
    return 1 if counts["failed"] else 0


def predict_all(files, names, tasks, predictor, threshold, writer, counts, args):
    """Write a CSV row per file, predicting the good ones in batches."""
    writer.writerow(COLUMNS)
    pending = []  # (shown, container, member, overlay name, pixels or None, error)

    novelty = predictor.novelty
    limit = f"{novelty.threshold:.4f}" if novelty is not None else ""

    def flush():
        good = [(c, m, name, px) for _, c, m, name, px, _ in pending if px is not None]
        probs, scores = predictor(good) if good else ([], None)
        probs, scores = iter(probs), iter(scores if scores is not None else [])
        for shown, _, _, name, pixels, error in pending:
            if pixels is None:
                counts["failed"] += 1
                print(f"predict: {printable(shown)}: {printable(error)}", file=sys.stderr)
                writer.writerow([cell(shown), "", "", cell(threshold), "", limit, cell(error), ""])
                continue
            p = float(next(probs))
            score = float(next(scores)) if novelty is not None else None
            label = "target" if p >= threshold else "other"
            if score is not None and novelty.unknown(score):
                label = "unknown"
            counts[label] += 1
            writer.writerow([cell(shown), f"{p:.6f}", label, cell(threshold),
                             f"{score:.4f}" if score is not None else "", limit, "",
                             cell(str(predictor.explain_dir / name)) if predictor.explain_dir else ""])
        pending.clear()

    results = parallel_map(load, tasks, args.workers, desc="predict")
    for (pixels, error), (shown, container, member, _, _), name in zip(results, files, names):
        pending.append((shown, container, member, name, pixels, error))
        if sum(p[4] is not None for p in pending) >= args.batch_size:
            flush()
    flush()


def cli():
    """The `artist-predict` console script."""
    run(main)


if __name__ == "__main__":
    cli()
