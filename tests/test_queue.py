"""Parallel experiments: two head variants queued, run by two queue workers, listed with their metrics."""
import json
import os
import signal
import time

from tests.conftest import git_init, sh

TIMEOUT_S = 600
RATES = ("0.01", "0.0001")


def queue_status(project):
    """[(task, status)] from `dvc queue status`, and its whole output."""
    out = sh(project, "dvc", "queue", "status").stdout
    rows = [line.split() for line in out.splitlines()[1:] if line.strip() and not line.startswith("Worker")]
    return [(row[0], row[-1]) for row in rows], out


def wait_for_queue(project):
    """Poll `dvc queue status` until no task is queued or running (at most TIMEOUT_S)."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        tasks, out = queue_status(project)
        if not any(status in ("Queued", "Running") for _, status in tasks):
            return tasks
        assert time.monotonic() < deadline, f"queue not done after {TIMEOUT_S} s:\n{out}"
        time.sleep(2)


def stop_workers(project):
    """`dvc queue stop`, then end any worker still alive after 30 s (one may hang on shutdown)."""
    sh(project, "dvc", "queue", "stop", check=False)
    pids = [int(f.read_text()) for f in (project / ".dvc/tmp/exps/celery").glob("dvc-exp-worker-*.pid")]
    deadline = time.monotonic() + 30
    while pids and time.monotonic() < deadline:
        pids = [pid for pid in pids if alive(pid)]
        time.sleep(1)
    for pid in pids:
        os.kill(pid, signal.SIGTERM)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def experiments(shown):
    """{experiment name: (params, metrics)} from `dvc exp show --json` (DVC 3 layout)."""
    out = {}
    for commit in shown:
        for exp in commit.get("experiments") or []:
            for rev in exp["revs"]:
                data = rev.get("data") or {}
                out[rev.get("name") or data.get("name")] = (data.get("params", {}), data.get("metrics", {}))
    return out


def test_queue_two_head_variants_run_in_parallel(tiny_project, tmp_path):
    git_init(tiny_project)
    sh(tiny_project, "dvc", "repro")
    sh(tiny_project, "git", "add", "-A")
    sh(tiny_project, "git", "commit", "-qm", "first run")  # queued runs see only what git tracks

    sh(tiny_project, "dvc", "exp", "run", "--queue", "-S", f"train_refined.learning_rate={','.join(RATES)}")
    assert [status for _, status in queue_status(tiny_project)[0]] == ["Queued", "Queued"]
    try:
        # the workers inherit stdout: a file, not a pipe, so this returns before they end
        sh(tiny_project, "bash", "-c", f"dvc queue start -j 2 >{tmp_path}/queue-start.log 2>&1")
        tasks = wait_for_queue(tiny_project)
        workers = sorted(p.name for p in (tiny_project / ".dvc/tmp/exps/celery").glob("dvc-exp-worker-*.pid"))
    finally:
        stop_workers(tiny_project)
    assert [status for _, status in tasks] == ["Success", "Success"]
    assert workers == ["dvc-exp-worker-1.pid", "dvc-exp-worker-2.pid"]

    found = experiments(json.loads(sh(tiny_project, "dvc", "exp", "show", "--json").stdout))
    assert len(found) == 2, found.keys()
    rates, refined = set(), []
    for params, metrics in found.values():
        rates.add(params["params.yaml"]["data"]["train_refined"]["learning_rate"])
        refined.append(metrics["metrics/train_refined.json"]["data"])
        assert "metrics/evaluate.json" in metrics
    assert rates == {float(r) for r in RATES}
    assert refined[0]["train"]["loss"] != refined[1]["train"]["loss"]  # different runs, different numbers
