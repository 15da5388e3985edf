"""PNG figures (matplotlib, no display): confusion matrices, ROC/PR overlays, a prediction gallery."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn import metrics as skm  # noqa: E402

from artist_style.files import ensure_parent  # noqa: E402

CLASS_NAMES = ("other", "target")


def save(fig, path):
    fig.savefig(ensure_parent(path), dpi=110, bbox_inches="tight", metadata={"Software": None})
    plt.close(fig)


def confusion_axes(ax, labels, predicted, title):
    """Confusion matrix with the count (and row share) written in every cell."""
    cm = skm.confusion_matrix(labels, predicted, labels=[0, 1])
    ax.imshow(cm, cmap="Blues")
    for (i, j), n in np.ndenumerate(cm):
        share = n / max(cm[i].sum(), 1)
        ax.text(j, i, f"{n}\n{share:.0%}", ha="center", va="center",
                color="white" if n > cm.max() / 2 else "black", fontsize=11)
    ax.set_xticks([0, 1], CLASS_NAMES)
    ax.set_yticks([0, 1], CLASS_NAMES)
    ax.set_xlabel("predicted")
    ax.set_ylabel("actual")
    ax.set_title(title, fontsize=9)


def curves_axes(ax, curves, kind, title):
    """ROC or precision-recall curves, one line per (name, labels, probabilities)."""
    for name, labels, probs in curves:
        if kind == "roc":
            x, y, _ = skm.roc_curve(labels, probs)
            ax.plot(x, y, label=f"{name} (AUC {skm.roc_auc_score(labels, probs):.3f})")
        else:
            y, x, _ = skm.precision_recall_curve(labels, probs)
            ax.plot(x, y, label=f"{name} (AP {skm.average_precision_score(labels, probs):.3f})")
    if kind == "roc":
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
    else:
        ax.set_xlabel("recall (target)")
        ax.set_ylabel("precision (target)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="lower right" if kind == "roc" else "lower left")


def grid_png(path, panels, draw, columns, size):
    """One figure of several panels (one savefig: each figure costs ~0.15 s): draw(ax, *panel) for each
    panel, `columns` to a row, each panel `size` (width, height) inches."""
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(rows, columns, figsize=(size[0] * columns, size[1] * rows), squeeze=False)
    for ax, panel in zip(axes.ravel(), panels):
        draw(ax, *panel)
    for ax in axes.ravel()[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    save(fig, path)


def mosaic_png(path, tiles, captions, title, columns=8, tile=112):
    """Images in a grid, each scaled to `tile` px with its caption (lines, colour) under it, one PIL
    image (a grid of matplotlib axes took ~30 ms per image). A red caption also frames its image."""
    from PIL import Image, ImageDraw, ImageFont
    font = ImageFont.load_default(size=11)
    lines = max(len(text.splitlines()) for text, _ in captions)
    cell_w, cell_h, top = tile + 8, tile + 8 + 13 * lines, 24
    rows = max(1, -(-len(tiles) // columns))
    sheet = Image.new("RGB", (columns * cell_w, top + rows * cell_h), "white")
    draw = ImageDraw.Draw(sheet)
    draw.text((4, 5), title, fill="black", font=font)
    for k, (image, (text, colour)) in enumerate(zip(tiles, captions)):
        x, y = (k % columns) * cell_w + 4, top + (k // columns) * cell_h
        if colour == "red":
            draw.rectangle((x - 3, y - 3, x + tile + 2, y + tile + 2), fill="red")
        sheet.paste(Image.fromarray(np.asarray(image)).convert("RGB").resize((tile, tile), Image.Resampling.BILINEAR),
                    (x, y))
        draw.multiline_text((x, y + tile + 4), text, fill=colour, font=font, spacing=2)
    sheet.save(ensure_parent(path), optimize=False)


def gallery_png(path, images, labels, probs, threshold, title, columns=8):
    """Test images with true label, predicted label and probability; mistakes framed in red."""
    captions = []
    for label, p in zip(labels, probs):
        predicted = int(p >= threshold)
        captions.append((f"true {CLASS_NAMES[label]}\npred {CLASS_NAMES[predicted]} p={p:.2f}",
                         "red" if predicted != label else "black"))
    mosaic_png(path, list(images), captions, title, columns)


def comparison_png(path, rows, metrics, title="Models on the same test images: original and probes"):
    """Grouped bars: one panel per metric (rows of panels) and test set (columns), models along x,
    one bar per probe with its value written above it; where a row has `<metric>_95` (a [low, high]
    95% interval), a black error bar shows it. rows: dicts with model, test_set, probe and the
    metrics; metrics: {key: label}."""
    models = list(dict.fromkeys(r["model"] for r in rows))
    sets = list(dict.fromkeys(r["test_set"] for r in rows))
    probes = list(dict.fromkeys(r["probe"] for r in rows))
    value = {(r["model"], r["test_set"], r["probe"]): r for r in rows}
    colours = dict(zip(probes, ["#1f4e79", "#9e9e9e", "#e07b39", "#6a994e", "#8e44ad"]))
    width, with_intervals = 0.8 / len(probes), False
    fig, axes = plt.subplots(len(metrics), len(sets), figsize=(3.3 * len(sets) + 0.6, 2.5 * len(metrics)),
                             squeeze=False, sharey=True)
    for i, (key, label) in enumerate(metrics.items()):
        for j, test_set in enumerate(sets):
            ax = axes[i, j]
            for k, probe in enumerate(probes):
                picked = [value[(m, test_set, probe)] for m in models if (m, test_set, probe) in value]
                xs = np.array([models.index(r["model"]) for r in picked]) + (k - (len(probes) - 1) / 2) * width
                ys = np.array([r[key] for r in picked], dtype=float)
                ax.bar(xs, ys, width, color=colours[probe], label=probe)
                tops = ys
                if picked and all(f"{key}_95" in r for r in picked):
                    low, high = np.array([r[f"{key}_95"] for r in picked], dtype=float).T
                    ax.errorbar(xs, ys, yerr=[ys - low, high - ys], fmt="none", ecolor="black", elinewidth=0.7,
                                capsize=1.5)
                    tops, with_intervals = np.maximum(ys, high), True
                for x, y, top in zip(xs, ys, tops):
                    ax.annotate(f"{y:.3f}", (x, top), xytext=(0, 2), textcoords="offset points", ha="center",
                                va="bottom", rotation=90, fontsize=6.5)
            ax.axhline(0.5, color="grey", lw=0.8, ls="--")
            ax.set_xticks(range(len(models)), models, fontsize=8)
            ax.set_ylim(0, 1.18)
            ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
            ax.tick_params(axis="y", labelsize=7)
            ax.spines[["top", "right"]].set_visible(False)
            if i == 0:
                ax.set_title(test_set, fontsize=9)
            if j == 0:
                ax.set_ylabel(label, fontsize=8)
    axes[0, -1].legend(title="probe", fontsize=7, title_fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0),
                       frameon=False)
    note = "; black bars: 95% intervals, test groups drawn again" if with_intervals else ""
    fig.suptitle(f"{title} (dashed line: 0.5{note})", fontsize=9)
    fig.tight_layout()
    save(fig, path)
