"""The report (written by evaluate): its table holds exactly the numbers of evaluate's details, one row per
model, test set and probe."""
import json

from artist_style.evaluation import report
from tests.conftest import ROOT, assert_same, parse


def fake_metrics():
    def m(acc, n=100):
        right = round(acc * n)
        return {"accuracy": acc, "accuracy_95": [acc - 0.0512, min(1.0, acc + 0.0398)], "f1_macro": acc - 0.01234,
                "roc_auc": min(1.0, acc + 0.04321), "n": n,
                "tp": right // 2, "tn": right - right // 2, "fp": (n - right) // 2, "fn": n - right - (n - right) // 2}
    results = {model: {"threshold": 0.5, "e2e_checked": "all",
                       "v1_test": {"original": m(acc), "grayscale": m(acc - 0.3), "hue": m(acc - 0.2)}}
               for model, acc in (("refined", 0.95), ("baseline", 0.9), ("base", 0.8))}
    results["refined"]["v1_test"]["original"]["minus_baseline_95"] = [-0.01, 0.1204]
    results["base"]["v1_test"]["original"]["minus_baseline_95"] = [-0.1796, -0.0304]
    return results


def test_committed_report_equals_committed_metrics():
    results = json.loads((ROOT / "plots/evaluate/details.json").read_text())
    assert_same(parse((ROOT / "metrics/report.md").read_text()), results)
    assert (ROOT / "metrics/report.md").read_text() == report.markdown(results)  # not edited by hand


def test_report_on_made_up_metrics(tmp_path):
    results = fake_metrics()
    assert report.write(results, tmp_path / "report.md", tmp_path / "comparison.png") == 9
    text = (tmp_path / "report.md").read_text()
    assert_same(parse(text), results)
    assert [k[0] for k in parse(text)][::3] == ["baseline", "base", "refined"]
    assert [k[2] for k in parse(text)][:3] == ["original", "grayscale", "hue"]
    assert "refined beats the baseline (+0.050, 5 images; 95% interval −0.010 to +0.120)" in text
    assert "base trails the baseline (−0.100, 10 images; 95% interval −0.180 to −0.030)" in text
    assert "| refined | v1_test | original | 0.950 | 0.899–0.990 | 0.938 | 0.993 | 100 |" in text
    assert "under grayscale: baseline −0.300, base −0.300, refined −0.300" in text
    assert (tmp_path / "comparison.png").read_bytes()[:4] == b"\x89PNG"


def test_report_sets_the_combined_model_against_its_members(tmp_path):
    results = fake_metrics()
    results["combined"] = json.loads(json.dumps(results["refined"]))
    results["combined"]["v1_test"]["original"].update(accuracy=0.94, minus_baseline_95=[-0.02, 0.11],
                                                      minus_refined_95=[-0.0312, 0.0104])
    text = report.markdown(results)
    assert ("refined beats the baseline (+0.050, 5 images; 95% interval −0.010 to +0.120); combined beats the "
            "baseline (+0.040, 4 images; 95% interval −0.020 to +0.110); combined trails refined (−0.010, 1 image; "
            "95% interval −0.031 to +0.010)") in text
    del results["combined"]["v1_test"]["original"]["minus_refined_95"]  # no interval: no sentence
    assert "combined trails refined" not in report.markdown(results)


def test_report_shows_the_unknown_shares():
    results = fake_metrics()
    for model, shares in (("refined", (0.01, 0.02, 0.3, 0.5)), ("base", (0.0, 0.04, 0.1, 0.25))):
        val, original, grayscale, generated = shares
        results[model] |= {"novelty_threshold": 12.3456, "unknown_val": val, "unknown_ood": generated, "ood_n": 4,
                           "ood_missed": ["flat-grey-48x48", "noise-gaussian-48x48"] if generated < 0.5 else []}
        results[model]["v1_test"]["original"]["unknown"] = original
        results[model]["v1_test"]["grayscale"]["unknown"] = grayscale
        results[model]["v1_test"]["hue"]["unknown"] = 0.0
    text = report.markdown(results)
    assert_same(parse(text), results)  # the first table: accuracy, unchanged
    section = text.split("## Unknown pictures")[1]
    lines = [line for line in section.splitlines() if line.startswith("|")]
    assert lines[0] == ("| model | novelty threshold | validation | v1_test | v1_test grayscale | v1_test hue | "
                        "generated (n) |")
    assert lines[2] == "| base | 12.35 | 0.000 | 0.040 | 0.100 | 0.000 | 0.250 (4) |"
    assert lines[3] == "| refined | 12.35 | 0.010 | 0.020 | 0.300 | 0.000 | 0.500 (4) |"
    assert len(lines) == 4  # the baseline has no novelty: no row
    assert "- base missed 2 of the 4 generated pictures: `flat-grey-48x48`, `noise-gaussian-48x48`." in section
    assert "- refined missed 0 of the 4 generated pictures." in section
    assert "## Unknown pictures" not in report.markdown(fake_metrics())  # no model with a novelty: no section


def test_chart_draws_the_intervals_it_is_given(monkeypatch, tmp_path):
    """Accuracy bars get an error bar spanning their 95% interval; metrics without one get none."""
    from matplotlib.container import ErrorbarContainer

    from artist_style.evaluation import plots
    figures = []
    monkeypatch.setattr(plots, "save", lambda fig, path: figures.append(fig))
    report.write(fake_metrics(), tmp_path / "report.md", tmp_path / "comparison.png")
    accuracy_axes, f1_axes = figures[0].axes[0], figures[0].axes[1]
    bars = [c for c in accuracy_axes.containers if isinstance(c, ErrorbarContainer)]
    assert len(bars) == 3  # one per probe, each over the 3 models
    segments = [s for c in bars for s in c.lines[2][0].get_segments()]
    spans = sorted(round(float(s[1][1] - s[0][1]), 4) for s in segments)
    assert spans == sorted(round(0.0512 + min(1.0, a + 0.0398) - a, 4)  # [acc - 0.0512, min(1, acc + 0.0398)]
                           for a in (0.9, 0.6, 0.7, 0.8, 0.5, 0.6, 0.95, 0.65, 0.75))
    assert not [c for c in f1_axes.containers if isinstance(c, ErrorbarContainer)]


def test_swap_summary_sets_the_combined_model_against_each_member():
    """summarise: means over seeds, and the combined model's paired difference from each member, whose
    interval comes from the per-draw differences (here constant, so the interval is a point)."""
    from artist_style.evaluation.artist_swap import summarise

    def run(ba):  # one seed: {model: {probe: scores and draws}}; draws = the balanced accuracy in all 4 draws
        return {m: {"original": {"accuracy": b, "balanced_accuracy": b, "draws": [b] * 4}} for m, b in ba.items()}

    by_seed = [run({"baseline": 0.90, "refined": 0.98, "combined": 0.96}),
               run({"baseline": 0.90, "refined": 0.96, "combined": 0.97})]
    out = summarise(by_seed, ["refined", "baseline"])
    combined = out["combined"]["original"]
    assert combined["balanced_accuracy"] == 0.965 and out["refined"]["original"]["balanced_accuracy"] == 0.97
    assert combined["minus_refined"] == -0.005 and combined["minus_refined_95"] == [-0.005, -0.005]
    assert combined["minus_baseline"] == 0.065 and combined["minus_baseline_95"] == [0.065, 0.065]
    assert "minus_refined" not in out["refined"]["original"] and "minus_baseline" not in out["baseline"]["original"]
    table = report.members_table({"noto": out})
    assert "| target | combined − refined | combined − baseline |" in table
    assert "| noto | −0.005 (−0.005 to −0.005) | +0.065 (+0.065 to +0.065) |" in table
    assert report.members_table({"noto": {m: out[m] for m in ("baseline", "refined")}}) == []
