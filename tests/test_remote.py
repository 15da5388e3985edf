"""Sharing through a DVC remote: push raw data, cache and outputs; a fresh clone pulls them and
has nothing to reproduce. The remote is a local folder; S3, GCS and SSH remotes work the same way."""
import subprocess

from tests.conftest import git_init, sh

RAW = ["data/raw/target_v1", "data/raw/other_v1", "data/raw/target_v2", "data/raw/other_v2"]
PULLED = ["data/raw/target_v2/target_0042.png", "data/interim/images.csv", "data/processed/images.npy",
          "data/features/style.npy", "models/base.keras", "models/refined.keras"]
STAGES = ["ingest", "split@v1", "split@v2", "preprocess", "featurize", "train_base", "train_refined", "evaluate"]


def remote_files(remote):
    return sorted(p for p in remote.rglob("*") if p.is_file())


def test_push_then_fresh_clone_pulls_everything_and_reproduces_nothing(tiny_project, tmp_path):
    git_init(tiny_project, dvc_add=RAW)
    tracked = sh(tiny_project, "git", "ls-files", "data/raw").stdout.split()
    assert sorted(tracked) == sorted(["data/raw/.gitignore"] + [f"{p}.dvc" for p in RAW])  # images not in git

    ran = sh(tiny_project, "dvc", "repro").stdout
    assert all(f"Running stage '{s}'" in ran for s in STAGES)
    remote = tmp_path / "remote"
    sh(tiny_project, "dvc", "remote", "add", "-d", "shared", str(remote))
    sh(tiny_project, "git", "add", "-A")
    sh(tiny_project, "git", "commit", "-qm", "first run, shared remote")
    pushed = sh(tiny_project, "dvc", "push")
    assert len(remote_files(remote)) >= 140 + len(PULLED), pushed.stdout  # 140 raw images + outputs + dir listings

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(tiny_project), str(clone)], check=True)
    assert not (clone / ".dvc/cache").exists() and not (clone / "models/refined.keras").exists()
    sh(clone, "dvc", "pull")
    for path in PULLED:
        assert (clone / path).read_bytes() == (tiny_project / path).read_bytes(), path
    assert len(list((clone / "data/raw/target_v1").glob("*.png"))) == 40
    assert (clone / "metrics/evaluate.json").read_bytes() == (tiny_project / "metrics/evaluate.json").read_bytes()

    assert "Data and pipelines are up to date" in sh(clone, "dvc", "status").stdout
    again = sh(clone, "dvc", "repro")
    assert "Running stage" not in again.stdout + again.stderr
    assert "didn't change, skipping" in again.stdout
    assert sh(clone, "git", "status", "--porcelain").stdout == ""
