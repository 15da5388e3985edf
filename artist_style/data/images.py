"""Decode, check and normalise images: the one place that turns file bytes into pixels.

ingest, preprocess and predict all use these functions, so every image is read the same way.
"""
import io
import warnings

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

WHITE = (255, 255, 255)
# The formats an input may be in; anything else is refused before a decoder sees it (EPS would go
# to Ghostscript, and many rare decoders are little tested against hostile input). A camera's JPEG
# with a second picture is opened by the JPEG plugin (as MPO).
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP", "TIFF")


class Rejected(Exception):
    """An input file that cannot be used; `code` is a short reason, str() the details."""

    def __init__(self, code, detail):
        super().__init__(code, detail)  # both in args, so it pickles across worker processes
        self.code, self.detail = code, detail

    def __str__(self):
        return self.detail


def open_image(data: bytes, min_side=1, max_pixels=None):
    """Decode the bytes fully (first frame); raise Rejected with a reason if unusable."""
    if not data:
        raise Rejected("empty", "zero-byte file")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data), formats=FORMATS)
            width, height = img.size
            if max_pixels and width * height > max_pixels:
                raise Rejected("too_large", f"{width}x{height} pixels is more than max_pixels={max_pixels}")
            if min(width, height) < min_side:
                raise Rejected("too_small", f"{width}x{height} is smaller than min_side={min_side}")
            img.load()
    except Rejected:
        raise
    except UnidentifiedImageError:
        other = _other_format(data)
        if other:
            raise Rejected("format_not_allowed", f"starts like a {other} file: only {', '.join(FORMATS)} are read")
        raise Rejected("not_image", "not an image file Pillow can identify")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise Rejected("too_large", str(err))
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        reason = "truncated" if "truncated" in str(err).lower() or isinstance(err, EOFError) else "corrupt"
        raise Rejected(reason, f"cannot decode: {err}")
    except Exception as err:  # Pillow plugins raise many types on hostile input
        raise Rejected("unreadable", f"cannot decode: {type(err).__name__}: {err}")
    return img


def _other_format(data):
    """The name of a format outside FORMATS whose signature `data` starts with (its decoder is not run), or None."""
    Image.init()
    prefix = data[:16]
    for name, (_, accept) in Image.OPEN.items():
        if name in FORMATS or accept is None:
            continue
        try:
            if accept(prefix):
                return name
        except Exception:
            continue
    return None


def to_rgb(img):
    """EXIF orientation applied, any mode to 8-bit RGB, transparency composited onto white."""
    try:
        img = ImageOps.exif_transpose(img)
    except Exception as err:
        raise Rejected("corrupt", f"bad EXIF orientation data: {err}")
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        scaled = np.asarray(img, dtype=np.float64) / 257.0  # 16-bit range to 8-bit
        img = Image.fromarray(np.clip(scaled.round(), 0, 255).astype(np.uint8), "L")
    elif img.mode == "F":
        img = Image.fromarray(np.clip(np.asarray(img).round(), 0, 255).astype(np.uint8), "L")
    if img.mode in ("P", "LA", "La", "PA", "RGBa") or "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode == "RGBA":
        canvas = Image.new("RGBA", img.size, WHITE + (255,))
        canvas.alpha_composite(img)
        img = canvas
    return img.convert("RGB")


def fit(img, size, mode="pad"):
    """Resize an RGB image to size x size: pad (keep aspect, white borders), stretch or crop."""
    if mode == "pad":
        out = ImageOps.pad(img, (size, size), method=Image.Resampling.BICUBIC, color=WHITE)
    elif mode == "crop":
        out = ImageOps.fit(img, (size, size), method=Image.Resampling.BICUBIC)
    elif mode == "stretch":
        out = img.resize((size, size), Image.Resampling.BICUBIC)
    else:
        raise ValueError(f"unknown resize mode {mode!r}")
    return np.asarray(out, dtype=np.uint8)


def prepare(data: bytes, size, mode="pad", min_side=1, max_pixels=None):
    """File bytes to a (size, size, 3) uint8 array, exactly as the pipeline sees the image."""
    return fit(to_rgb(open_image(data, min_side, max_pixels)), size, mode)


def grayscale(batch):
    """Probe: ITU-R 601 luma replicated to three channels (uint8 in, uint8 out)."""
    luma = np.asarray(batch, dtype=np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32)
    luma = np.clip(luma.round(), 0, 255).astype(np.uint8)
    return np.repeat(luma[..., None], 3, axis=-1)


def hue_rotate(batch, degrees):
    """Probe: rotate every pixel's hue by `degrees`, keeping saturation and value (uint8 in, uint8 out).
    degrees: one number, or one per image of an (n, h, w, 3) batch.

    The conversion is in float64 (matplotlib's vectorised RGB-HSV), so 0 or 360 degrees returns the
    images unchanged, bit for bit; Pillow's 8-bit HSV changed ~37% of channel values even at 0 degrees.
    Each image's distinct colours are converted once (illustrations have few): the same result, ~10x faster.
    """
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
    batch = np.asarray(batch, dtype=np.uint8)
    shift = np.broadcast_to(np.asarray(degrees, dtype=np.float64) / 360.0, batch.shape[:1])
    out = np.empty_like(batch)
    for i, image in enumerate(batch):
        pixels = image.reshape(-1, 3).astype(np.int32)
        colours, inverse = np.unique(pixels[:, 0] << 16 | pixels[:, 1] << 8 | pixels[:, 2], return_inverse=True)
        rgb = np.stack([colours >> 16, (colours >> 8) & 255, colours & 255], axis=-1)
        hsv = rgb_to_hsv(rgb / 255.0)
        hsv[..., 0] = (hsv[..., 0] + shift[i]) % 1.0
        turned = np.clip(np.round(hsv_to_rgb(hsv) * 255.0), 0, 255).astype(np.uint8)
        out[i] = turned[inverse.ravel()].reshape(image.shape)
    return out


PROBES = {"grayscale": lambda batch, hue_degrees: grayscale(batch),
          "hue": lambda batch, hue_degrees: hue_rotate(batch, hue_degrees)}
