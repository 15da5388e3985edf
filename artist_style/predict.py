"""predict: is each image in the target artist's style? Not a DVC stage: a command for users.

    artist-predict PATH... [--model models/refined.keras] [--out FILE] [--explain DIR]
    python -m artist_style.predict PATH...   (the same)

PATHs are image files, folders (read recursively) or zip archives (read without extracting).
Each image is prepared exactly as the pipeline's preprocess stage prepares it (the same code) at the
model's size and resize mode (models/<name>.json). The CSV (stdout or --out) has one row per file:
path, probability of the target artist, predicted label, threshold, error. A file that cannot be
read gets an error row and a line on stderr; the others are still predicted. Exit status: 0 when
every file was predicted, 1 when some failed, 2 when nothing could run (bad model, bad option).
"""
import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from artist_style.data import sources
from artist_style.data.images import Rejected, open_image, prepare, to_rgb
from artist_style.errors import UserError, run
from artist_style.models.card import ModelCard
from artist_style.parallel import parallel_map

COLUMNS = ["path", "probability", "predicted", "threshold", "error"]


def gather(paths):
    """(shown path, container, member, name for its explanation) for every file under the paths, in order."""
    out = []

    def archive(zip_path, shown, label):
        return [(f"{shown}/{m}", str(zip_path), m, f"{label}/{m}") for m in sources.list_files(zip_path)]

    for given in paths:
        path = Path(given)
        if sources.is_zip(path):
            out += archive(path, given, path.name)
        elif path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                rel = f.relative_to(path).as_posix()
                if sources.is_zip(f):
                    out += archive(f, str(f), rel)
                else:
                    out.append((str(f), str(f.parent), f.name, rel))
        else:
            out.append((given, str(path.parent), path.name, path.name))
    return out


def load(task):
    """Prepared pixels of one file, or the reason it cannot be used (runs in a worker process)."""
    container, member, size, mode, min_side, max_pixels = task
    try:
        data = sources.read(container, member)
    except FileNotFoundError:
        return None, "missing: no such file"
    except Exception as err:
        return None, f"unreadable: cannot read: {err}"
    try:
        return prepare(data, size, mode, min_side, max_pixels), None
    except Rejected as err:
        return None, f"{err.code}: {err}"


def model_settings(model_path, threshold):
    """(meta, threshold, where the threshold came from) for a saved model."""
    card = ModelCard(model_path)
    if threshold is not None:
        return card.meta(), threshold, "--threshold"
    return (card.meta(), *card.threshold())


class Predictor:
    """Batches prepared images through the model (and Grad-CAM when explaining)."""

    def __init__(self, model, threshold, explain_dir, mode):
        self.model, self.threshold, self.explain_dir, self.mode = model, threshold, explain_dir, mode

    def __call__(self, items):
        """items: [(container, member, explanation name, pixels)] -> probabilities."""
        batch = np.stack([pixels for *_, pixels in items])
        if not self.explain_dir:
            return self.model.predict(batch, batch_size=len(batch), verbose=0).ravel()
        from artist_style.evaluation import explain
        probs, heats = explain.heatmaps(self.model, batch)
        for (container, member, name, _), heat, p in zip(items, heats, probs):
            rgb = to_rgb(open_image(sources.read(container, member)))
            out = self.explain_dir / (name.replace("/", "__").removesuffix(".png") + ".png")
            explain.explain_original(rgb, heat, float(p), self.threshold, self.mode).save(out)
        return probs


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", help="image files, folders or zip archives")
    parser.add_argument("--model", default="models/refined.keras")
    parser.add_argument("--threshold", type=float, help="decision threshold (default: the one evaluate chose)")
    parser.add_argument("--out", help="CSV file to write (default: stdout)")
    parser.add_argument("--explain", metavar="DIR", help="write a Grad-CAM overlay PNG per image into DIR")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--workers", type=int, default=2, help="processes decoding images")
    parser.add_argument("--min-side", type=int, default=32)
    parser.add_argument("--max-pixels", type=int, default=40_000_000)
    args = parser.parse_args()
    if args.threshold is not None and not 0 < args.threshold < 1:
        raise UserError(f"--threshold {args.threshold}: must be in (0, 1)")
    meta, threshold, origin = model_settings(args.model, args.threshold)

    from artist_style.models.network import load_model
    model = load_model(args.model)
    size = model.input_shape[1]
    if size != meta["image_size"]:
        raise UserError(f"{args.model}: input size {size} but its .json says {meta['image_size']}")
    explain_dir = Path(args.explain) if args.explain else None
    if explain_dir:
        explain_dir.mkdir(parents=True, exist_ok=True)
    predictor = Predictor(model, threshold, explain_dir, meta["resize"])

    files = gather(args.paths)
    tasks = [(c, m, size, meta["resize"], args.min_side, args.max_pixels) for _, c, m, _ in files]
    out = open(args.out, "w", newline="") if args.out else sys.stdout
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    counts = {"target": 0, "other": 0, "failed": 0}
    pending = []  # (shown, container, member, explanation name, pixels or None, error)

    def flush():
        good = [(c, m, name, px) for _, c, m, name, px, _ in pending if px is not None]
        probs = iter(predictor(good) if good else [])
        for shown, _, _, _, pixels, error in pending:
            if pixels is None:
                counts["failed"] += 1
                print(f"predict: {shown}: {error}", file=sys.stderr)
                writer.writerow([shown, "", "", threshold, error])
                continue
            p = float(next(probs))
            label = "target" if p >= threshold else "other"
            counts[label] += 1
            writer.writerow([shown, f"{p:.6f}", label, threshold, ""])
        pending.clear()

    for file, (pixels, error) in zip(files, parallel_map(load, tasks, args.workers, desc="predict")):
        pending.append((*file, pixels, error))
        if sum(p[4] is not None for p in pending) >= args.batch_size:
            flush()
    flush()
    if args.out:
        out.close()
    print(f"predict: {len(files)} files: {counts['target']} target, {counts['other']} other, "
          f"{counts['failed']} failed (threshold {threshold:.3f} from {origin}; model {args.model})",
          file=sys.stderr)
    return 1 if counts["failed"] else 0


def cli():
    """The `artist-predict` console script."""
    run(main)


if __name__ == "__main__":
    cli()
