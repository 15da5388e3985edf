"""Out-of-distribution probes: pictures unlike any illustration, made by code, the same on every run.

Flat colours (white, black, yellow and a few more), noise, gradients and text-like lines, each at a
few sizes (square and not, so `pad` adds its white borders as it does to a user's file). evaluate
counts the share of them a model flags as unknown; the tests use the same pictures.
"""
import numpy as np
from PIL import Image, ImageDraw

from artist_style.data.images import fit

SEED = 0  # the pictures every model is checked on (the novelty settings were chosen on seed 1's)
SIZES = ((48, 48), (224, 224), (320, 200))  # (width, height)
FLAT = {"white": (255, 255, 255), "black": (0, 0, 0), "yellow": (255, 255, 0), "red": (230, 20, 20),
        "blue": (20, 40, 220), "grey": (128, 128, 128)}


def flat(width, height, colour):
    return Image.new("RGB", (width, height), colour)


def noise(width, height, rng, kind):
    """uniform colour noise, grey gaussian noise, or blocky colour noise (8 px cells)."""
    if kind == "uniform":
        pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    elif kind == "gaussian":
        grey = np.clip(rng.normal(128, 50, (height, width)), 0, 255).astype(np.uint8)
        pixels = np.repeat(grey[..., None], 3, axis=-1)
    else:
        cells = rng.integers(0, 256, (-(-height // 8), -(-width // 8), 3), dtype=np.uint8)
        pixels = np.kron(cells, np.ones((8, 8, 1), dtype=np.uint8))[:height, :width]
    return Image.fromarray(np.ascontiguousarray(pixels), "RGB")


def gradient(width, height, rng, kind):
    """Two random colours blended left to right, top to bottom, or from the centre out."""
    a, b = rng.integers(0, 256, (2, 3)).astype(np.float32)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    if kind == "horizontal":
        t = x / max(width - 1, 1)
    elif kind == "vertical":
        t = y / max(height - 1, 1)
    else:
        t = np.hypot(x - width / 2, y - height / 2) / np.hypot(width / 2, height / 2)
    pixels = a + (b - a) * np.clip(t, 0, 1)[..., None]
    return Image.fromarray(pixels.round().astype(np.uint8), "RGB")


def text_lines(width, height, rng, dark):
    """Rows of short bars like words on a page: dark on white, or light on a dark background."""
    ink, paper = ((20, 20, 20), (250, 250, 250)) if dark else ((235, 235, 235), (25, 25, 40))
    img = Image.new("RGB", (width, height), paper)
    draw = ImageDraw.Draw(img)
    line = max(3, height // 16)
    for top in range(line, height - line, 2 * line):
        x = line
        while x < width - line:
            word = int(rng.integers(line, 4 * line))
            draw.rectangle([x, top, min(x + word, width - line), top + line - 1], fill=ink)
            x += word + line
    return img


def pictures(seed=0):
    """[(name, PIL RGB image)] of every probe, in a fixed order; the random ones drawn from `seed`."""
    rng = np.random.default_rng(seed)
    out = []
    for width, height in SIZES:
        at = f"{width}x{height}"
        out += [(f"flat-{name}-{at}", flat(width, height, colour)) for name, colour in FLAT.items()]
        out += [(f"noise-{kind}-{at}", noise(width, height, rng, kind)) for kind in ("uniform", "gaussian", "blocks")]
        out += [(f"gradient-{kind}-{at}", gradient(width, height, rng, kind))
                for kind in ("horizontal", "vertical", "radial")]
        out += [(f"text-{tone}-{at}", text_lines(width, height, rng, tone == "dark")) for tone in ("dark", "light")]
    return out


def images(size, resize="pad", seed=0):
    """(names, uint8 array (n, size, size, 3)): every probe prepared as preprocess and predict prepare a file."""
    named = pictures(seed)
    return [name for name, _ in named], np.stack([fit(img, size, resize) for _, img in named])
