"""The README stays true: its results table equals the committed metrics, and its layout names real paths."""
import json
import re
import subprocess

from artist_style.evaluation import report
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
TEXT = " ".join(README.split())  # its prose, line breaks as spaces
MODELS = {"base": "base", "refined": "refined", "colour/edge/texture baseline": "baseline", "combined": "combined"}


def quoted(path):
    """The JSON file `path` as the README quotes it: the workspace's, or, while README.md has no uncommitted
    change, the one committed with it. `dvc repro` on another kind of CPU rewrites the metrics (bfloat16
    rounds differently without AMX, docs/OPERATIONS.md), and the committed README rightly keeps quoting
    the committed figures."""
    def git(*args):
        return subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    if git("diff", "--quiet", "HEAD", "--", "README.md").returncode == 0:
        committed = git("show", f"HEAD:{path}")
        if committed.returncode == 0:
            return json.loads(committed.stdout)
    return json.loads((ROOT / path).read_text())


def table_rows(marker):
    """The cells of the README's table between <!-- marker: ... --> and <!-- /marker -->, header first."""
    block = README.split(f"<!-- {marker}:")[1].split(f"<!-- /{marker} -->")[0]
    return [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]


def test_results_table_equals_the_committed_metrics():
    metrics = quoted("metrics/evaluate.json")
    rows = table_rows("results")
    assert len(rows) == 5  # header + 4 models
    for cells in rows[1:]:
        model = next(v for k, v in MODELS.items() if cells[0].startswith(k))
        wanted = [metrics[model]["v2_test"][p]["accuracy"] for p in ("original", "grayscale", "hue")]
        assert [float(c) for c in cells[1:]] == [round(w, 3) for w in wanted], model


def test_artist_swap_table_equals_the_committed_results():
    swap = quoted("metrics/artist_swap.json")
    rows = table_rows("swap")
    assert [r[0] for r in rows[1:]] == ["twemoji", "noto", "openmoji", "fluent"]
    for cells in rows[1:]:
        s = swap[cells[0]]
        wanted = [s["refined"]["original"], s["refined"]["grayscale"], s["baseline"]["original"],
                  s["baseline"]["grayscale"], s["combined"]["original"]]
        means = [float(c.split(" ±")[0]) for c in cells[1:6]]
        assert means == [round(w["balanced_accuracy"], 3) for w in wanted], cells[0]
        sds = [float(c.split("± ")[1]) if "±" in c else 0.0 for c in cells[1:6]]  # no "±": under 0.0005
        assert sds == [round(w["balanced_accuracy_sd"], 3) for w in wanted], cells[0]
        assert cells[6] == report.difference_cell(s["refined"]["original"]), cells[0]
    for target in ("noto", "fluent"):  # the combined model against refined, quoted where it trails
        cell = report.difference_cell(swap[target]["combined"]["original"], "refined")
        assert f"{target.capitalize()}, {cell}" in TEXT, target


def test_quoted_intervals_equal_the_committed_details():
    details = quoted("plots/evaluate/details.json")
    low, high = details["refined"]["v2_test"]["grayscale"]["accuracy_95"]
    assert f"refined in grayscale {low:.3f}–{high:.3f}" in TEXT
    low, high = details["refined"]["v2_test"]["original"]["minus_baseline_95"]
    assert f"refined minus baseline {report.bound(low)} to {report.bound(high)}" in TEXT


def test_artist_swap_is_current_the_pipelines_own_task_gives_its_metrics():
    """The sample's target is Twemoji: that task of the committed benchmark, with its first seed (the
    pipeline's), must equal evaluate's v2 test figures, or the benchmark was run on other features or code
    than the committed pipeline."""
    swap = quoted("metrics/artist_swap.json")["twemoji"]
    metrics = quoted("metrics/evaluate.json")
    for model in MODELS.values():
        for probe in ("original", "grayscale", "hue"):
            first_seed = swap[model][probe]["accuracy_by_seed"][0]
            assert first_seed == metrics[model]["v2_test"][probe]["accuracy"], (model, probe)


def test_readme_is_short_and_names_existing_paths():
    assert len(README.splitlines()) <= 200
    for path in re.findall(r"\]\(((?:docs|metrics|plots|params)[^)#]*)\)", README):
        assert (ROOT / path).exists(), path


def test_benchmark_figures_equal_metrics_benchmark_json():
    figures = quoted("metrics/benchmark.json")
    block = README.split("<!-- benchmark:")[1].split("<!-- /benchmark -->")[0]
    for key in ("cold_repro_s", "featurize_img_per_s", "head_experiment_s", "repeated_experiment_s",
                "noop_repro_s", "predict_img_per_s"):
        value = figures[key]
        shown = f"{value:.0f}" if key == "cold_repro_s" else f"{value:g}"
        assert re.search(rf"\b{re.escape(shown)}\b", block), (key, shown)
    assert figures["cold_repro_git_clean"] and "leaves `git status` clean" in block
