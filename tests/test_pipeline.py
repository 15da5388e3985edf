"""End to end: `dvc repro` of the whole pipeline on a tiny dataset in a fresh git repository,
then a head-only experiment that must not rerun featurize (nor the baseline)."""
import json
import sys

import numpy as np
import pandas as pd
import pytest

from artist_style.models.card import ModelCard
from tests.conftest import ROOT, assert_same, git_init, parse, sh


def test_dvc_repro_then_head_experiment(tiny_project):
    git_init(tiny_project)
    first = sh(tiny_project, "dvc", "repro")
    for stage in ("ingest", "split@v1", "split@v2", "preprocess", "featurize", "train_base", "train_refined",
                  "baseline", "evaluate"):
        assert f"Running stage '{stage}'" in first.stdout, stage

    images = pd.read_csv(tiny_project / "data/interim/images.csv")
    assert len(images) == 140 and images["label"].sum() == 70
    assert (images[images["source"].str.endswith("_v2")]["versions"] == "v2").all()
    v1 = {s: set(pd.read_csv(tiny_project / f"data/splits/v1/{s}.csv")["id"]) for s in ("train", "val", "test")}
    v2 = {s: set(pd.read_csv(tiny_project / f"data/splits/v2/{s}.csv")["id"]) for s in ("train", "val", "test")}
    assert sum(map(len, v1.values())) == 80 and sum(map(len, v2.values())) == 140
    assert all(v1[s] <= v2[s] for s in v1)
    pixels = np.load(tiny_project / "data/processed/images.npy", mmap_mode="r")
    assert pixels.shape == (140, 32, 32, 3) and pixels.dtype == np.uint8

    details = json.loads((tiny_project / "plots/evaluate/details.json").read_text())
    metrics = json.loads((tiny_project / "metrics/evaluate.json").read_text())
    for model in ("base", "refined", "baseline", "combined"):
        for test_set, n in (("v1_test", len(v1["test"])), ("v2_test", len(v2["test"]))):
            assert details[model][test_set]["original"]["n"] == n
            assert set(metrics[model][test_set]) == {"original", "grayscale", "hue"}
            for probe in ("original", "grayscale", "hue"):  # the slim file: only what people compare
                keys = ("accuracy", "roc_auc") if probe == "original" else ("accuracy",)
                assert metrics[model][test_set][probe] == {k: details[model][test_set][probe][k] for k in keys}
        unknown = {"unknown_ood", "unknown_v2_test"} if model in ("base", "refined") else set()  # Keras models
        assert set(metrics[model]) == {"threshold", "v1_test", "v2_test"} | unknown
        assert details[model]["e2e_max_abs_diff"] <= 1e-3
        for test_set in ("v1_test", "v2_test"):  # every accuracy has its interval, around it
            for m in details[model][test_set].values():
                low, high = m["accuracy_95"]
                assert 0 <= low <= m["accuracy"] <= high <= 1
            if model != "baseline":
                low, high = details[model][test_set]["original"]["minus_baseline_95"]
                difference = details[model][test_set]["original"]["accuracy"] - details["baseline"][test_set][
                    "original"]["accuracy"]
                assert low <= difference + 1e-9 and difference - 1e-9 <= high
            if model == "combined":  # and against refined, its other member
                combined = details[model][test_set]["original"]
                low, high = combined["minus_refined_95"]
                difference = combined["accuracy"] - details["refined"][test_set]["original"]["accuracy"]
                assert low <= difference + 1e-9 and difference - 1e-9 <= high

    def leaves(tree):
        return sum(leaves(v) for v in tree.values()) if isinstance(tree, dict) else 1
    # per model: the threshold, 2 numbers per test set (original) and 1 per probe; per Keras model 2 unknown shares
    assert leaves(metrics) == 4 * (1 + 2 * (2 + 2)) + 2 * 2 == 40
    for model in ("refined", "base"):  # random backbone weights at 32 px, and yet:
        novelty = ModelCard(tiny_project / f"models/{model}.keras").novelty()
        assert novelty.threshold > 0 and novelty.train.shape[0] == len((v1 if model == "base" else v2)["train"])
        assert metrics[model]["unknown_ood"] == details[model]["unknown_ood"] >= 0.9
        # base's threshold comes from 10 validation images (refined: 14): 0.16 and 0.03 of v2_test measured
        assert metrics[model]["unknown_v2_test"] == details[model]["v2_test"]["original"]["unknown"] <= (
            0.25 if model == "base" else 0.1)
        assert details[model]["ood_n"] == 42 and details[model]["unknown_val"] <= 0.1
    ood = pd.read_csv(tiny_project / "plots/evaluate/ood.csv")
    assert len(ood) == 2 * 42
    # predict's default model calls a flat white square unknown (base, on a random 32 px backbone's average
    # of its last block, scores it 0.45 against a threshold of 0.46: among its training pictures')
    assert ood.query("model == 'refined' and picture == 'flat-white-224x224'")["unknown"].all()
    assert metrics["refined"]["v2_test"]["original"]["accuracy"] >= 0.9  # the two synthetic hands differ a lot
    assert metrics["baseline"]["v2_test"]["original"]["accuracy"] >= 0.9
    baseline = json.loads((tiny_project / "metrics/baseline.json").read_text())
    assert baseline["n_train"] == len(v2["train"]) and baseline["n_val"] == len(v2["val"])
    assert_same(parse((tiny_project / "metrics/report.md").read_text()), details)
    for path in ("models/base.keras", "models/refined.keras", "models/refined.threshold.json",
                 "models/refined.novelty.npz", "models/base.novelty.npz",
                 "plots/evaluate/confusion.png", "plots/evaluate/curves.png",
                 "plots/evaluate/plots/sklearn/confusion/refined_v2_test.json",
                 "plots/train_refined/plots/metrics/eval/accuracy.tsv", "models/baseline.weights.json",
                 "models/baseline.threshold.json", "plots/evaluate/plots/sklearn/roc/baseline_v2_test.json",
                 "plots/models/baseline/gallery.png", "plots/models/refined/explain.png",
                 "plots/models/combined/gallery.png", "plots/models/refined/predictions.csv",
                 "plots/comparison.png", "dvc.lock"):
        assert (tiny_project / path).exists(), path

    # the refined head is refit on train + val; its threshold and the combined model use the first fit's
    # held-out validation probabilities, which its card keeps
    held_out = ModelCard(tiny_project / "models/refined.keras").validation()
    validation = pd.read_csv(tiny_project / "plots/models/refined/validation.csv", dtype={"id": str})
    val_ids = pd.read_csv(tiny_project / "data/splits/v2/val.csv", dtype={"id": str})["id"]
    assert sorted(held_out.index) == sorted(validation["id"]) == sorted(val_ids)
    assert np.allclose(held_out.loc[validation["id"]].to_numpy(), validation["probability"], atol=1e-6)

    combined = json.loads((tiny_project / "models/combined.json").read_text())
    assert combined["members"] == ["refined", "baseline"] and combined["n_val"] == len(v2["val"])
    assert metrics["combined"]["v2_test"]["original"]["accuracy"] >= 0.9

    swap = sh(tiny_project, sys.executable, str(ROOT / "scripts/artist_swap.py"), "--targets", "target_v1", "other_v2",
               "--seeds", "2")
    results = json.loads((tiny_project / "metrics/artist_swap.json").read_text())
    assert set(results) == {"target_v1", "other_v2"} and "| other_v2 | combined |" in swap.stdout
    for by_model in results.values():
        assert set(by_model) == {"base", "refined", "baseline", "combined"}
        for by_probe in by_model.values():
            assert set(by_probe) == {"original", "grayscale", "hue"}
            assert all(0 <= s[k] <= 1 for s in by_probe.values() for k in ("accuracy", "balanced_accuracy"))
            for s in by_probe.values():  # the mean and sd of the two seeds' figures
                assert len(s["balanced_accuracy_by_seed"]) == 2
                assert s["balanced_accuracy"] == round(float(np.mean(s["balanced_accuracy_by_seed"])), 6)
                assert s["balanced_accuracy_sd"] == round(float(np.std(s["balanced_accuracy_by_seed"], ddof=1)), 6)
                low, high = s["balanced_accuracy_95"]
                assert 0 <= low <= high <= 1
        for model in ("base", "refined", "combined"):  # the comparison the benchmark is read for
            s, baseline = by_model[model]["original"], by_model["baseline"]["original"]
            want = s["balanced_accuracy"] - baseline["balanced_accuracy"]
            assert s["minus_baseline"] == pytest.approx(want, abs=2e-6)
            low, high = s["minus_baseline_95"]
            assert -1 <= low <= high <= 1
        assert "minus_baseline" not in by_model["baseline"]["original"]
        combined, refined = by_model["combined"]["original"], by_model["refined"]["original"]
        assert combined["minus_refined"] == pytest.approx(combined["balanced_accuracy"] - refined["balanced_accuracy"],
                                                          abs=2e-6)
        low, high = combined["minus_refined_95"]
        assert -1 <= low <= high <= 1 and "minus_baseline_95" in combined
    assert (tiny_project / "plots/artist_swap.png").stat().st_size > 1000
    swap_md = (tiny_project / "metrics/artist_swap.md").read_text()
    assert "| other_v2 | combined |" in swap_md
    assert "| target | base − baseline | refined − baseline | combined − baseline |" in swap_md
    assert "| target | combined − refined | combined − baseline |" in swap_md
    for path in ("metrics/artist_swap.json", "metrics/artist_swap.md", "plots/artist_swap.png"):
        (tiny_project / path).unlink()

    again = sh(tiny_project, "dvc", "repro")
    assert "Running stage" not in again.stdout
    assert "up to date" in sh(tiny_project, "dvc", "status").stdout

    sh(tiny_project, "git", "add", "-A")
    sh(tiny_project, "git", "commit", "-qm", "first run")
    exp = sh(tiny_project, "dvc", "exp", "run", "-S", "train_refined.dropout=0.3")
    ran = exp.stdout + exp.stderr
    for stage in ("train_refined", "evaluate"):
        assert f"Running stage '{stage}'" in ran, stage
    for stage in ("featurize", "preprocess", "ingest", "train_base", "baseline"):  # nor their evaluations
        assert f"Running stage '{stage}'" not in ran, stage
    shown = json.loads(sh(tiny_project, "dvc", "exp", "show", "--json").stdout)
    assert len(json.dumps(shown)) > 100 and "dropout" in json.dumps(shown)
