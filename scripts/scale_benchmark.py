#!/usr/bin/env python3
"""Scaling benchmark: the data stages and head training on 1x, 4x, 16x the sample, timed and memory-measured.

For each size it builds a dataset from the sample (copy 0 of an image is the sample's own file,
copy k > 0 the same picture with one pixel changed, so every file is a distinct image of the
same manifest group), writes a params.yaml for it (small images, a fast backbone with random
weights) in a temporary project folder, and runs the real stage modules there as subprocesses:
ingest, split v1, split v2, preprocess, featurize, and train_refined (a few epochs, reading its
features by batch from the memory map). For each stage it prints:

- wall: seconds, including the process's start (imports, building the backbone: see `fixed` below);
- img/s: the stage's rows (files, split rows, images, feature rows, training rows x epochs) per second
  of wall time;
- cpu: CPU seconds of the stage and its workers per wall second (2.0 = both cores busy);
- max RSS: the largest resident set of any one process of the stage (wait4's ru_maxrss). It counts
  pages of memory-mapped files (the .npy outputs and inputs) that the process has touched;
- tree PSS, tree anon: the largest sum, over the stage's process and its worker processes, of
  their proportional set size (shared pages split between processes) and of its anonymous part
  (memory the processes own, as opposed to file pages the kernel can write back and drop),
  sampled every 0.1 s from /proc/<pid>/smaps_rollup (Linux only);

then the ratios of each figure between sizes, and a least-squares line wall = fixed + rows / rate
per stage with its largest misfit: time grows linearly when the misfit is small. Anonymous memory
should stay nearly flat. The load average is printed too: other work on the machine slows stages.

    python scripts/scale_benchmark.py                          # 1x, 4x, 16x at 64 px
    python scripts/scale_benchmark.py --sizes 1,2 --image-size 96 --keep
"""
import argparse
import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

import yaml
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ZIP = ROOT / "data/sample/emoji-people.zip"
SAMPLE_MANIFEST = ROOT / "data/sample/manifest.csv"
STAGES = ["ingest", "split v1", "split v2", "preprocess", "featurize", "train_refined"]
MIB = 1024 * 1024


def variant(png, k):
    """The image with one pixel changed by copy number k (k = 0: the file itself)."""
    if k == 0:
        return png
    img = Image.open(io.BytesIO(png)).convert("RGB")
    x, y = k % img.width, (k // img.width) % img.height
    r, g, b = img.getpixel((x, y))
    img.putpixel((x, y), (r ^ 1, g, b))
    out = io.BytesIO()
    img.save(out, format="PNG")
    return out.getvalue()


def build_dataset(folder, factor):
    """folder/images.zip and folder/manifest.csv with `factor` copies of every sample image."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(SAMPLE_MANIFEST, newline="") as f:
        rows = list(csv.DictReader(f))
    manifest = []
    with zipfile.ZipFile(SAMPLE_ZIP) as src, zipfile.ZipFile(folder / "images.zip", "w", zipfile.ZIP_STORED) as dst:
        for row in rows:
            png = src.read(row["file"])
            stem = row["file"].removesuffix(".png")
            for k in range(factor):
                name = row["file"] if k == 0 else f"{stem}~{k}.png"
                dst.writestr(name, variant(png, k))
                manifest.append({**row, "file": name})
    with open(folder / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(manifest)
    return len(manifest)


def write_params(project, data, args):
    """The repository's params.yaml with the benchmark's data (`data`: relative to the project) and fast settings."""
    p = yaml.safe_load((ROOT / "params.yaml").read_text())
    for source in p["data"]["sources"]:
        source.update(path=str(data / "images.zip"), manifest=str(data / "manifest.csv"))
    p["ingest"]["workers"] = args.workers
    p["preprocess"].update(image_size=args.image_size, workers=args.workers)
    p["featurize"].update(backbone=args.backbone, weights="none", views=args.views, probes=args.probes)
    p["train_refined"].update(epochs=args.epochs, augmented=args.views > 0)
    (project / "params.yaml").write_text(yaml.safe_dump(p, sort_keys=False))


def process_tree(root):
    """Pids of root and all its descendants (from the ppid field of /proc/*/stat)."""
    parents = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    tree, grew = {root}, True
    while grew:
        more = {pid for pid, ppid in parents.items() if ppid in tree} - tree
        tree |= more
        grew = bool(more)
    return tree


def tree_memory(root):
    """(sum of Pss, sum of Pss_Anon) in bytes over the process tree of root."""
    pss = anon = 0
    for pid in process_tree(root):
        try:
            text = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            key, _, value = line.partition(":")
            if key == "Pss":
                pss += int(value.split()[0]) * 1024
            elif key == "Pss_Anon":
                anon += int(value.split()[0]) * 1024
    return pss, anon


def stage_command(name, params):
    """The command dvc.yaml runs for stage `name` ("split v1" is split's v1 item), ${...} filled in."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    stage, _, item = name.partition(" ")
    cmd = stages[stage]["do"]["cmd"] if item else stages[stage]["cmd"]

    def value(match):
        key = match.group(1)
        if key == "item":
            return item
        section, field = key.split(".")
        return str(params[section][field])
    words = shlex.split(re.sub(r"\$\{([\w.]+)\}", value, cmd))
    return [sys.executable if words[0] == "python" else words[0], *words[1:]]


def run_stage(project, command, log):
    """Run one stage's command in project; (seconds, cpu seconds, max RSS, peak tree PSS, peak tree anon)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "DVC_NO_ANALYTICS": "1"}
    peak = [0, 0]
    done = threading.Event()
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=project, env=env,
                            stdout=log, stderr=subprocess.STDOUT)

    def sample():
        while not done.wait(0.1):
            pss, anon = tree_memory(proc.pid)
            peak[0], peak[1] = max(peak[0], pss), max(peak[1], anon)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    done.set()
    sampler.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise SystemExit(f"{' '.join(command[1:4])} failed with status {proc.returncode}; see {log.name}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss * 1024, peak[0], peak[1]


def count_rows(path):
    with open(path) as f:
        return sum(1 for _ in f) - 1


def stage_rows(project, name):
    """How many items the stage handled, read from its outputs."""
    if name == "ingest":
        stats = json.loads((project / "metrics/ingest.json").read_text())
        return stats["images"] + stats["rejected"]
    if name.startswith("split"):
        stats = json.loads((project / f"metrics/split/{name.split()[1]}.json").read_text())
        return sum(part["total"] for part in stats.values())
    if name == "preprocess":
        return count_rows(project / "data/processed/index.csv")
    if name == "train_refined":  # feature rows seen: training rows times epochs
        stats = json.loads((project / "metrics/train_refined.json").read_text())
        return stats["n_train"] * stats["epochs"]
    return count_rows(project / "data/features/index.csv")


def benchmark(factor, workdir, args):
    project = workdir / f"project-{factor}x"
    data = Path("data/raw/bench")  # inside the project: stages refuse sources outside it
    project.mkdir(parents=True)
    files = build_dataset(project / data, factor)
    write_params(project, data, args)
    kept = None
    results = []
    params = yaml.safe_load((project / "params.yaml").read_text())
    with open(project / "stages.log", "w") as log:
        for name in STAGES:
            seconds, cpu, rss, pss, anon = run_stage(project, stage_command(name, params), log)
            rows = stage_rows(project, name)
            results.append({"size": f"{factor}x", "stage": name, "rows": rows, "seconds": seconds, "cpu": cpu,
                            "rss": rss, "pss": pss, "anon": anon})
            if name == "ingest":
                kept = json.loads((project / "metrics/ingest.json").read_text())["images"]
    if kept != files:
        raise SystemExit(f"{factor}x: ingest kept {kept} of {files} files: the copies are not all distinct")
    if not args.keep:
        shutil.rmtree(project)
    return results


def print_table(results):
    print(f"{'size':>4}  {'stage':<13} {'rows':>7} {'wall s':>7} {'img/s':>7} {'cpu':>4} {'max RSS':>8} "
          f"{'tree PSS':>8} {'tree anon':>9}   (memory in MiB)")
    for r in results:
        print(f"{r['size']:>4}  {r['stage']:<13} {r['rows']:>7} {r['seconds']:>7.1f} {r['rows'] / r['seconds']:>7.0f} "
              f"{r['cpu'] / r['seconds']:>4.1f} {r['rss'] / MIB:>8.0f} {r['pss'] / MIB:>8.0f} {r['anon'] / MIB:>9.0f}")


def print_ratios(results, sizes):
    base = {r["stage"]: r for r in results if r["size"] == f"{sizes[0]}x"}
    print(f"\nratios to {sizes[0]}x: rows, wall time, max RSS, tree PSS, tree anon")
    for factor in sizes[1:]:
        for r in (r for r in results if r["size"] == f"{factor}x"):
            b = base[r["stage"]]
            print(f"{factor}x/{sizes[0]}x {r['stage']:<13} rows {r['rows'] / b['rows']:5.1f}  "
                  f"time {r['seconds'] / b['seconds']:5.2f}  max RSS {r['rss'] / b['rss']:5.2f}  "
                  f"tree PSS {r['pss'] / b['pss']:5.2f}  tree anon {r['anon'] / b['anon']:5.2f}")


def linear_fit(points):
    """Least squares seconds = fixed + rows / rate over (rows, seconds); (fixed, rate, largest misfit)."""
    n = len(points)
    mx, my = sum(x for x, _ in points) / n, sum(y for _, y in points) / n
    slope = sum((x - mx) * (y - my) for x, y in points) / sum((x - mx) ** 2 for x, _ in points)
    fixed = my - slope * mx
    misfit = max(abs(fixed + slope * x - y) / y for x, y in points)
    return fixed, (1 / slope if slope > 0 else float("inf")), misfit


def print_fit(results):
    print("\nlinear fit per stage: wall = fixed + rows / rate (misfit: largest |fit - measured| / measured)")
    for stage, _ in STAGES:
        fixed, rate, misfit = linear_fit([(r["rows"], r["seconds"]) for r in results if r["stage"] == stage])
        print(f"{stage:<13} fixed {fixed:5.1f} s  rate {rate:7.0f} img/s  misfit {misfit:4.0%}")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1,4,16", help="copies of the sample, comma-separated (default 1,4,16)")
    parser.add_argument("--image-size", type=int, default=64)
    parser.add_argument("--backbone", default="mobilenet_v2")
    parser.add_argument("--views", type=int, default=1, help="augmented views per training image")
    parser.add_argument("--probes", default="grayscale,hue", help="comma-separated; '' for none")
    parser.add_argument("--workers", type=int, default=2, help="ingest and preprocess workers")
    parser.add_argument("--epochs", type=int, default=3, help="train_refined epochs")
    parser.add_argument("--workdir", help="folder for the datasets and projects (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the datasets and projects")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    args.probes = [p for p in args.probes.split(",") if p]
    workdir = Path(args.workdir or tempfile.mkdtemp(prefix="scale-benchmark-"))
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}; {args.image_size} px, {args.backbone} "
          f"(weights none), views {args.views}, probes {','.join(args.probes) or 'none'}, {args.workers} workers; "
          f"sample x {sizes}; in {workdir}", flush=True)
    results = []
    try:
        for factor in sizes:
            results += benchmark(factor, workdir, args)
            print_table([r for r in results if r["size"] == f"{factor}x"])
            print(flush=True)
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    print_table(results)
    print_ratios(results, sizes)
    if len(sizes) > 2:  # two points always fit a line
        print_fit(results)
    print(f"\nload average at the end: {os.getloadavg()[0]:.1f} (1 min), {os.getloadavg()[1]:.1f} (5 min)")


if __name__ == "__main__":
    main()
