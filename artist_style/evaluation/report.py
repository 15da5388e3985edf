"""The report: one human-readable comparison of every model on every test set and probe.

From evaluate's details alone: a markdown table model x test set x probe with accuracy (and its 95%
interval), macro F1 and ROC-AUC at each model's threshold, and n; then a few sentences computed from the
same numbers; a table of the share of images each model with a novelty calls unknown; and
plots/comparison.png, the accuracy numbers as bars.
Every number is written with `fmt`, so the report reads exactly as the metrics file rounds to.
"""
from artist_style.evaluation import plots
from artist_style.evaluation.per_model import test_sets
from artist_style.evaluation.scoring import RESAMPLES
from artist_style.files import ensure_parent

COLUMNS = {"accuracy": "accuracy", "accuracy_95": "95% interval", "f1_macro": "F1 (macro)", "roc_auc": "ROC-AUC",
           "n": "n"}
MODEL_ORDER = ("baseline", "base", "refined", "combined")  # others follow, by name
BASELINE = "baseline"
COMBINED = "combined"


def comparisons(models, members=()):
    """(model, other) pairs whose difference the reports give: each model against the baseline, and the
    combined model against each other model it stacks (`members`, params.yaml evaluate.combine)."""
    pairs = [(m, BASELINE) for m in models if m != BASELINE] if BASELINE in models else []
    if COMBINED in models:
        pairs += [(COMBINED, m) for m in members if m not in (BASELINE, COMBINED) and m in models]
    return pairs


def compared_with(scores):
    """The models other than the baseline that `scores` holds a difference from (its `minus_<model>_95` keys)."""
    return [k[len("minus_"):-len("_95")] for k in scores
            if k.startswith("minus_") and k.endswith("_95") and k != f"minus_{BASELINE}_95"]


def fmt(value):
    """How the report writes a number: integers as they are, intervals as low–high, the rest with 3 decimals."""
    if isinstance(value, list):
        return "–".join(fmt(v) for v in value)
    return str(value) if isinstance(value, int) else f"{value:.3f}"


def model_order(model):
    return (MODEL_ORDER.index(model) if model in MODEL_ORDER else len(MODEL_ORDER), model)


def rows(results):
    """[{model, test_set, probe, accuracy, f1_macro, roc_auc, n}] in report order (original probe first)."""
    out = []
    for model in sorted(results, key=model_order):
        for test_set in test_sets(results[model]):
            probes = sorted(results[model][test_set], key=lambda p: (p != "original", p))
            for probe in probes:
                m = results[model][test_set][probe]
                out.append({"model": model, "test_set": test_set, "probe": probe, **{k: m[k] for k in COLUMNS}})
    return out


def table(report_rows):
    """The markdown table of the rows."""
    head = ["model", "test set", "probe", *COLUMNS.values()]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * 3 + "---:|" * len(COLUMNS)]
    for r in report_rows:
        lines.append("| " + " | ".join([r["model"], r["test_set"], r["probe"], *(fmt(r[k]) for k in COLUMNS)]) + " |")
    return lines


def summary(results, report_rows):
    """Sentences from the numbers: majority-class accuracy, each model vs the baseline, the combined model vs
    each model it stacks, accuracy lost to each probe."""
    acc = {(r["model"], r["test_set"], r["probe"]): r["accuracy"] for r in report_rows}
    models = list(dict.fromkeys(r["model"] for r in report_rows))
    lines = []
    for test_set in sorted({r["test_set"] for r in report_rows}):
        here = [m for m in models if (m, test_set, "original") in acc]
        first = results[here[0]][test_set]["original"]
        n = first["n"]
        majority = max(first["tp"] + first["fn"], first["tn"] + first["fp"]) / n
        ranked = sorted(here, key=lambda m: -acc[(m, test_set, "original")])
        text = (f"- **{test_set}** (n = {n}; always answering the majority class scores {fmt(majority)}): "
                + ", ".join(f"{m} {fmt(acc[(m, test_set, 'original')])}" for m in ranked) + " on the original images")
        members = compared_with(results[COMBINED][test_set]["original"]) if COMBINED in here else []
        for m, other in comparisons(here, members):
            a, b = acc[(m, test_set, "original")], acc[(other, test_set, "original")]
            images = round((a - b) * n)  # accuracy * n is a count of images
            verdict = "beats" if images > 0 else "ties with" if images == 0 else "trails"
            plural = "" if abs(images) == 1 else "s"
            low, high = results[m][test_set]["original"][f"minus_{other}_95"]
            name = "the baseline" if other == BASELINE else other
            text += (f"; {m} {verdict} {name} ({_change(a, b)}, {abs(images)} image{plural}; "
                     f"95% interval {bound(low)} to {bound(high)})")
        probes = sorted({r["probe"] for r in report_rows if r["test_set"] == test_set} - {"original"})
        for probe in probes:
            text += f". Accuracy change under {probe}: " + ", ".join(
                f"{m} {_change(acc[(m, test_set, probe)], acc[(m, test_set, 'original')])}"
                for m in here if (m, test_set, probe) in acc)
        lines.append(text + ".")
    return lines


def unknown_table(results):
    """The share each model with a novelty calls unknown: validation, test sets (original images and
    probes), generated pictures; then the generated pictures it missed. [] when no model has one."""
    models = [m for m in dict.fromkeys(r["model"] for r in rows(results)) if "unknown_ood" in results[m]]
    if not models:
        return []
    columns = sorted({(s, p) for m in models for s in test_sets(results[m]) for p in results[m][s]},
                     key=lambda c: (c[0], c[1] != "original", c[1]))
    head = ["model", "novelty threshold", "validation", *(s if p == "original" else f"{s} {p}" for s, p in columns),
            "generated (n)"]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
    for m in models:
        r = results[m]
        cells = [fmt(r[s][p]["unknown"]) if p in r.get(s, {}) else "" for s, p in columns]
        lines.append("| " + " | ".join([m, f"{r['novelty_threshold']:.2f}", fmt(r["unknown_val"]), *cells,
                                        f"{fmt(r['unknown_ood'])} ({r['ood_n']})"]) + " |")
    lines.append("")
    for m in models:
        missed = results[m]["ood_missed"]
        lines.append(f"- {m} missed {len(missed)} of the {results[m]['ood_n']} generated pictures"
                     + (": " + ", ".join(f"`{n}`" for n in missed) if missed else "") + ".")
    return ["## Unknown pictures", "",
            "Share of images whose novelty (mean distance to the nearest training images in the backbone's "
            "style features, after a signed log) is above the model's threshold, a quantile of its validation "
            "images' novelty (params.yaml `train_*.novelty_*`): predict answers `unknown` for them. The accuracy "
            "above counts every image, unknown or not. Generated: flat colours, noise, gradients and text-like "
            "lines at a few sizes (artist_style/data/ood.py), unlike any illustration.", "", *lines, ""]


def _change(a, b):
    """a - b as the table shows them (the difference of the two rounded numbers), with its sign."""
    return _signed(float(fmt(a)) - float(fmt(b)))


def _signed(x):
    x = round(x, 3)
    return f"{'+' if x > 0 else '−' if x < 0 else '±'}{abs(x):.3f}"


def bound(x):
    """An interval's end: signed, but zero is 0.000."""
    return _signed(x) if round(x, 3) else "0.000"


def swap_cell(scores):
    """A balanced accuracy as the swap tables show it: the mean, with its sd over seeds when it has one."""
    sd = scores.get("balanced_accuracy_sd", 0)
    return f"{scores['balanced_accuracy']:.3f}" + (f" ± {sd:.3f}" if sd else "")


def swap_table(results):
    """Markdown: one row per target and model (report order), balanced accuracy per probe (original first)."""
    probes = sorted(next(iter(next(iter(results.values())).values())), key=lambda p: (p != "original", p))
    lines = ["| target | model | " + " | ".join(probes) + " |", "|---|---|" + "---:|" * len(probes)]
    for target, by_model in results.items():
        for model in sorted(by_model, key=model_order):
            by_probe = by_model[model]
            lines.append(f"| {target} | {model} | " + " | ".join(swap_cell(by_probe[k]) for k in probes) + " |")
    return "\n".join(lines)


def difference_cell(scores, other=BASELINE):
    """A model's mean balanced accuracy minus `other`'s, with its 95% interval."""
    low, high = scores[f"minus_{other}_95"]
    return f"{bound(scores[f'minus_{other}'])} ({bound(low)} to {bound(high)})"


def difference_table(results):
    """Markdown: one row per target, per model other than the baseline its difference_cell (original images)."""
    models = [m for m in sorted(next(iter(results.values())), key=model_order) if m != BASELINE]
    lines = ["| target | " + " | ".join(f"{m} − baseline" for m in models) + " |", "|---|" + "---:|" * len(models)]
    for target, by_model in results.items():
        lines.append(f"| {target} | " + " | ".join(difference_cell(by_model[m]["original"]) for m in models) + " |")
    return "\n".join(lines)


def members_table(results):
    """Markdown: one row per target, the combined model against each model it stacks (original images);
    [] without a combined model."""
    combined = {t: by_model[COMBINED]["original"] for t, by_model in results.items() if COMBINED in by_model}
    if not combined:
        return []
    first = next(iter(combined.values()))
    others = sorted(compared_with(first), key=model_order) + ([BASELINE] if f"minus_{BASELINE}_95" in first else [])
    lines = ["| target | " + " | ".join(f"combined − {m}" for m in others) + " |", "|---|" + "---:|" * len(others)]
    for target, scores in combined.items():
        lines.append(f"| {target} | " + " | ".join(difference_cell(scores, m) for m in others) + " |")
    return ["## The combined model against its members", "",
            "The combined model stacks the others' validation probabilities, so it should be at least as good as "
            "the better of them. Its mean balanced accuracy minus each member's, on the original images, with the "
            "same paired intervals.", "", *lines, ""]


def swap_markdown(swap, seeds):
    """metrics/artist_swap.md: the artist-swap benchmark's tables (scripts/artist_swap.py writes both)."""
    return "\n".join([
        "# Artist swap: each source as the target", "",
        "Generated by `python scripts/artist_swap.py` with metrics/artist_swap.json (do not edit). Each source "
        "of params.yaml in turn is the target and the others are \"other\"; every model is trained as its "
        "stage trains it, on the pipeline's splits and cached features. Balanced accuracy on the test images "
        "of the last `evaluate.test_sets` version, at each model's threshold chosen on validation: the mean "
        f"± standard deviation over {len(seeds)} training seeds ({', '.join(map(str, seeds))}; the heads and the "
        "stacker change with the seed, the baseline does not).", "",
        swap_table(swap), "",
        "## Against the baseline", "",
        "On the original images: a model's mean balanced accuracy minus the baseline's, and its 95% interval "
        f"when the test set's groups are drawn again {RESAMPLES:,} times (the same draws for every model and "
        "seed; images of one group, one emoji in several sources, are not independent). An interval that "
        "holds 0 is a difference these test images cannot tell from none.", "",
        difference_table(swap), "", *members_table(swap)])


def markdown(results):
    report_rows = rows(results)
    return "\n".join([
        "# Models compared: test sets and probes",
        "",
        "Generated by the evaluate stage with plots/evaluate/details.json (do not edit). Accuracy "
        "and macro F1 at each model's threshold, chosen on its validation split (`threshold` in "
        "metrics/evaluate.json). Probes: `grayscale` (luma in all three channels) and `hue` (hue rotated, "
        "saturation and value kept) of the same test images. A model whose accuracy collapses towards "
        "the majority-class score on grayscale is reading colour, not line and form. The 95% intervals "
        "(of an accuracy, of a model's difference from the baseline and of the combined model's from each "
        "model it stacks) come from drawing the test set's "
        f"groups again {RESAMPLES:,} times (images of one group, such as one emoji in several sources, are not "
        "independent); a model with no errors gets no width.",
        "",
        *table(report_rows),
        "",
        *summary(results, report_rows),
        "",
        *unknown_table(results),
        "Each source as the target in turn: [artist_swap.md](artist_swap.md) (`python scripts/artist_swap.py`).",
        "",
    ])


def write(results, out, plot):
    """The report (markdown at `out`, bar chart at `plot`) of evaluate's details; returns its row count."""
    ensure_parent(out).write_text(markdown(results))
    plots.comparison_png(plot, rows(results), {k: v for k, v in COLUMNS.items() if k not in ("n", "accuracy_95")})
    return len(rows(results))
