"""Benchmark the pipeline on the sample, on this machine; print the figures and write metrics/benchmark.json.

    python scripts/benchmark.py [--keep DIR] [--out metrics/benchmark.json]

1. clones the repository's HEAD into a temporary folder (no outputs, an empty DVC cache) and times a
   cold `dvc repro` of the whole pipeline, with featurize's own images/second; says whether the
   cold run left `git status` clean (byte-identical outputs) and its metrics equal the committed ones;
2. times a no-op `dvc repro`;
3. times one head-only experiment (`dvc exp run -S train_refined.dropout=0.3`), which must not
   rerun featurize, then the same experiment again (restored from DVC's run cache, or retrained);
4. times `python -m artist_style.predict` on the sample's v2 test images (images/second, end to end).
Takes about 5 minutes on 2 cores. Run it from the repository root with the virtualenv active and
nothing else running.
"""
import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, cwd):
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    env = {**os.environ, "DVC_NO_ANALYTICS": "1", "PATH": path}
    start = time.time()
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.time() - start
    if result.returncode:
        sys.exit(f"benchmark: {' '.join(cmd)} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}")
    return seconds, result.stdout + result.stderr


def cpu_kind():
    """The CPU's name, family and model, and the units bfloat16 runs on: featurize's bytes are the same
    only on the same kind (docs/OPERATIONS.md, "The same numbers on another CPU")."""
    info = {}
    try:
        for line in open("/proc/cpuinfo"):
            key, _, value = line.partition(":")
            info.setdefault(key.strip(), value.strip())
    except OSError:
        pass
    if "model name" not in info:
        return platform.processor() or platform.machine()
    flags = info.get("flags", "").split()
    units = "AMX" if "amx_bf16" in flags else "AVX512-BF16, no AMX" if "avx512_bf16" in flags else "no bfloat16 units"
    return f"{info['model name']} (family {info.get('cpu family', '?')}, model {info.get('model', '?')}; {units})"


def machine():
    cpu = cpu_kind()
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    cores = len(os.sched_getaffinity(0))
    return f"{cpu}, {cores} cores, {memory:.0f} GiB RAM, {platform.system()} {platform.machine()}"


def committed(path):
    """A file's text as committed at HEAD."""
    return subprocess.run(["git", "show", f"HEAD:{path}"], cwd=ROOT, capture_output=True, text=True, check=True).stdout


FIXED_COLUMNS = {"Experiment", "rev", "typ", "Created", "parent", "State", "Executor"}


def readability(clone):
    """How wide `dvc exp show` is (its metrics and params columns; the code-hash columns dropped) in
    full and with --only-changed after the experiment, and how long `dvc metrics diff` is for it."""
    def columns(*options):
        header = run(["dvc", "exp", "show", "--csv", "--drop", r".*\.py$", *options], clone)[1].splitlines()[0]
        return len([c for c in header.split(",") if c not in FIXED_COLUMNS])
    table = run(["dvc", "metrics", "diff", "--md"], clone)[1]
    figures = {"exp_show_columns": columns(), "exp_show_only_changed_columns": columns("--only-changed"),
               "metrics_diff_rows": len([line for line in table.splitlines() if line.startswith("| metrics/")])}
    print(f"dvc exp show: {figures['exp_show_columns']} metrics and params columns, "
          f"{figures['exp_show_only_changed_columns']} with --only-changed; dvc metrics diff of the experiment: "
          f"{figures['metrics_diff_rows']} rows", flush=True)
    return figures


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--keep", help="clone into this folder and keep it (default: a temporary folder)")
    parser.add_argument("--out", default=str(ROOT / "metrics/benchmark.json"), help="where to write the figures")
    args = parser.parse_args()
    figures = {"cpu": machine()}
    work = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="benchmark-"))
    clone = work / "clone"
    try:
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        print(f"machine: {machine()}", flush=True)

        cold, log = run(["dvc", "repro"], clone)
        speed = re.search(r"featurize: (\d+) images .* in ([\d.]+) s, ([\d.]+) images/s", log)
        print(f"cold dvc repro, whole pipeline on the sample: {cold:.0f} s", flush=True)
        figures["cold_repro_s"] = round(cold, 1)
        if speed:
            print(f"featurize: {speed.group(1)} images in {speed.group(2)} s = {speed.group(3)} images/s", flush=True)
            figures["featurize_img_per_s"] = float(speed.group(3))
        changed = run(["git", "status", "--porcelain"], clone)[1].split("\n")
        changed = [line for line in changed if line.strip()]
        print(f"git status after the cold run: {'clean' if not changed else ', '.join(changed)}", flush=True)
        figures["cold_repro_git_clean"] = not changed

        noop, _ = run(["dvc", "repro"], clone)
        print(f"no-op dvc repro: {noop:.2f} s", flush=True)
        figures["noop_repro_s"] = round(noop, 2)

        same = all((clone / p).read_text() == committed(p)  # HEAD's, not the working tree's (this script writes there)
                   for p in subprocess.run(["git", "ls-files", "metrics"], cwd=ROOT, capture_output=True,
                                           text=True, check=True).stdout.split())
        print(f"metrics of the cold run equal the committed ones: {'yes' if same else 'NO'}", flush=True)
        figures["cold_metrics_equal_committed"] = same

        run(["git", "add", "-A"], clone)
        run(["git", "-c", "user.email=b@example.com", "-c", "user.name=benchmark",
             "commit", "--allow-empty", "-qm", "run"], clone)
        head_only, log = run(["dvc", "exp", "run", "-S", "train_refined.dropout=0.3"], clone)
        reran = sorted(set(re.findall(r"Running stage '([^']+)'", log)))
        print(f"head-only experiment (train_refined.dropout=0.3): {head_only:.1f} s, stages run: {', '.join(reran)}",
              flush=True)
        figures["head_experiment_s"] = round(head_only, 1)
        figures["head_experiment_stages"] = reran
        figures |= readability(clone)
        again, log = run(["dvc", "exp", "run", "-S", "train_refined.dropout=0.3"], clone)
        rerun = sorted(set(re.findall(r"Running stage '([^']+)'", log)))
        print(f"the same experiment again: {again:.1f} s, stages run: {', '.join(rerun) or 'none (restored)'}",
              flush=True)
        figures["repeated_experiment_s"] = round(again, 1)
        figures["repeated_experiment_stages"] = rerun

        test = pd.read_csv(clone / "data/splits/v2/test.csv", dtype={"id": str})
        images = pd.read_csv(clone / "data/interim/images.csv", dtype={"id": str}).set_index("id")
        folder = work / "predict"
        folder.mkdir(exist_ok=True)
        with zipfile.ZipFile(ROOT / "data/sample/emoji-people.zip") as z:
            for image_id in test["id"]:
                (folder / f"{image_id}.png").write_bytes(z.read(images.loc[image_id, "member"]))
        command = [sys.executable, "-m", "artist_style.predict", str(folder), "--out", str(work / "p.csv")]
        seconds, _ = run(command, clone)
        print(f"predict (end to end, incl. start-up): {len(test)} images in {seconds:.1f} s = "
              f"{len(test) / seconds:.1f} images/s", flush=True)
        figures["predict_img_per_s"] = round(len(test) / seconds, 1)
        Path(args.out).write_text(json.dumps(figures, indent=2, sort_keys=True) + "\n")
        print(f"wrote {args.out}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
