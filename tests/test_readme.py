"""The README stays true: its results table equals the committed metrics, and its layout names real paths."""
import json
import re

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
MODELS = {"base": "base", "refined": "refined", "colour/edge/texture baseline": "baseline"}


def test_results_table_equals_the_committed_metrics():
    metrics = json.loads((ROOT / "metrics/evaluate.json").read_text())
    block = README.split("<!-- results:")[1].split("<!-- /results -->")[0]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in block.splitlines()
            if line.startswith("| ") and not line.startswith("| ---")]
    assert len(rows) == 4  # header + 3 models
    for cells in rows[1:]:
        model = next(v for k, v in MODELS.items() if cells[0].startswith(k))
        wanted = [metrics[model]["v2_test"][p]["accuracy"] for p in ("original", "grayscale", "hue")]
        assert [float(c) for c in cells[1:]] == [round(w, 3) for w in wanted], model


def test_readme_is_short_and_names_existing_paths():
    assert len(README.splitlines()) <= 200
    for path in re.findall(r"\]\(((?:docs|metrics|plots|params)[^)#]*)\)", README):
        assert (ROOT / path).exists(), path


def test_benchmark_figures_equal_metrics_benchmark_json():
    figures = json.loads((ROOT / "metrics/benchmark.json").read_text())
    block = README.split("<!-- benchmark:")[1].split("<!-- /benchmark -->")[0]
    for key in ("cold_repro_s", "featurize_img_per_s", "head_experiment_s", "repeated_experiment_s",
                "noop_repro_s", "predict_img_per_s"):
        value = figures[key]
        shown = f"{value:.0f}" if key == "cold_repro_s" else f"{value:g}"
        assert re.search(rf"\b{re.escape(shown)}\b", block), (key, shown)
    assert figures["cold_repro_git_clean"] and "leaves `git status` clean" in block
