"""Decoding and normalising awkward image files: accepted with the right pixels, or rejected with the right reason."""
import numpy as np
import pytest
from PIL import Image

from artist_style.data.images import Rejected, fit, grayscale, hue_rotate, open_image, prepare, to_rgb
from tests.conftest import exif_rotated, huge_png, jpeg, png_bytes


def reason(data, **kw):
    with pytest.raises(Rejected) as err:
        open_image(data, **kw)
    return err.value.code


def test_rejects_each_bad_file_with_its_reason():
    good = jpeg(Image.new("RGB", (64, 64), "green"))
    assert reason(b"") == "empty"
    assert reason(b"hello, I am text pretending to be a PNG\n") == "not_image"
    assert reason(good[: len(good) // 2]) == "truncated"
    assert reason(huge_png(100_000, 100_000), max_pixels=40_000_000) == "too_large"
    assert reason(png_bytes(Image.new("RGB", (10, 50))), min_side=16) == "too_small"
    truncated_png = png_bytes(Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), np.uint8)))
    assert reason(truncated_png[:300]) in ("truncated", "corrupt")


def test_huge_declared_size_is_rejected_before_decoding_even_without_a_limit():
    # Pillow's own decompression-bomb guard (about 179 M pixels) still applies
    assert reason(huge_png(100_000, 100_000)) == "too_large"


def test_cmyk_jpeg_becomes_rgb():
    cmyk = Image.new("CMYK", (32, 32), (0, 255, 255, 0))  # pure red in CMYK
    rgb = np.asarray(to_rgb(open_image(jpeg(cmyk))))
    assert rgb.shape == (32, 32, 3)
    assert rgb[..., 0].mean() > 200 and rgb[..., 1].mean() < 60 and rgb[..., 2].mean() < 60


def test_16_bit_png_is_scaled_not_clipped():
    values = np.array([[0, 32896, 65535, 65535]] * 4, dtype=np.uint16)
    data = png_bytes(Image.fromarray(values))
    img = open_image(data)
    assert img.mode.startswith("I")
    rgb = np.asarray(to_rgb(img))
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 255]
    assert (rgb[..., 0] == rgb[..., 2]).all()


def test_palette_png_with_transparency_goes_onto_white():
    img = Image.new("P", (20, 20), 0)
    img.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)  # index 0 black (transparent), 1 red
    img.paste(1, (0, 0, 10, 20))
    data = png_bytes(img, transparency=0)
    rgb = np.asarray(to_rgb(open_image(data)))
    assert rgb[5, 5].tolist() == [255, 0, 0]
    assert rgb[5, 15].tolist() == [255, 255, 255]  # transparent black became white, not black


def test_rgba_alpha_is_composited_onto_white():
    img = Image.new("RGBA", (10, 10), (0, 0, 255, 0))
    img.paste((0, 0, 255, 128), (0, 0, 5, 10))
    rgb = np.asarray(to_rgb(open_image(png_bytes(img))))
    assert rgb[0, 9].tolist() == [255, 255, 255]
    assert rgb[0, 0].tolist() == [127, 127, 255]


def test_animated_gif_uses_the_first_frame():
    frames = [Image.new("RGB", (24, 24), c) for c in ("red", "blue", "green")]
    data = png_bytes(frames[0], format="GIF", save_all=True, append_images=frames[1:], duration=100)
    img = open_image(data)
    assert img.n_frames == 3
    assert np.asarray(to_rgb(img))[0, 0].tolist() == [255, 0, 0]


def test_exif_orientation_is_applied():
    rgb = np.asarray(to_rgb(open_image(exif_rotated())))
    assert rgb.shape == (40, 20, 3)  # portrait after rotating 90 degrees
    top, bottom = rgb[5, 10], rgb[35, 10]
    assert top[0] > 200 and top[2] < 60  # red on top: the left half rotated clockwise
    assert bottom[2] > 200 and bottom[0] < 60


def test_fit_modes_on_a_known_image():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    padded = fit(img, 32, "pad")
    assert padded.shape == (32, 32, 3) and padded.dtype == np.uint8
    assert padded[0, 16].tolist() == [255, 255, 255] and padded[16, 16].tolist() == [255, 0, 0]
    assert fit(img, 32, "stretch")[0, 0].tolist() == [255, 0, 0]
    assert (fit(img, 32, "crop") == [255, 0, 0]).all()


def test_prepare_matches_decode_then_fit():
    img = Image.new("RGB", (50, 30), (10, 200, 30))
    out = prepare(png_bytes(img), 32, "pad")
    assert out.shape == (32, 32, 3)
    assert out[16, 16].tolist() == [10, 200, 30]


def test_grayscale_probe_gives_equal_channels():
    batch = np.random.default_rng(1).integers(0, 256, (3, 8, 8, 3), dtype=np.uint8)
    gray = grayscale(batch)
    assert gray.shape == batch.shape and gray.dtype == np.uint8
    assert (gray[..., 0] == gray[..., 1]).all() and (gray[..., 1] == gray[..., 2]).all()
    expected = np.clip(np.round(batch @ np.array([0.299, 0.587, 0.114])), 0, 255)
    assert np.abs(gray[..., 0] - expected).max() <= 1


def test_hue_probe_rotates_red_to_cyan_and_keeps_gray():
    batch = np.zeros((1, 4, 4, 3), dtype=np.uint8)
    batch[0, :2] = (255, 0, 0)
    batch[0, 2:] = (128, 128, 128)
    out = hue_rotate(batch, 180)
    assert out[0, 0, 0, 0] < 10 and out[0, 0, 0, 1] > 245 and out[0, 0, 0, 2] > 245
    assert (out[0, 2:] == 128).all()


def test_hue_probe_is_exact_at_0_and_360_degrees_and_inverts():
    batch = np.random.default_rng(2).integers(0, 256, (4, 16, 16, 3), dtype=np.uint8)
    assert np.array_equal(hue_rotate(batch, 0), batch)  # every channel value of every pixel, unchanged
    assert np.array_equal(hue_rotate(batch, 360), batch)
    there_and_back = hue_rotate(hue_rotate(batch, 120), -120)
    assert np.abs(there_and_back.astype(int) - batch).max() <= 1  # only uint8 rounding in between
    pure = np.array([[[[255, 0, 0], [0, 255, 0]]]], dtype=np.uint8)
    assert hue_rotate(pure, 120)[0, 0].tolist() == [[0, 255, 0], [0, 0, 255]]  # red -> green -> blue


def test_hue_probe_equals_matplotlib_on_every_pixel_with_per_image_degrees():
    """hue_rotate converts each distinct colour once: it must equal converting every pixel."""
    from matplotlib.colors import hsv_to_rgb, rgb_to_hsv
    rng = np.random.default_rng(5)
    batch = rng.integers(0, 256, (3, 16, 16, 3), dtype=np.uint8)
    batch[1, :8] = (200, 40, 40)  # flat areas: repeated colours
    degrees = np.array([45.0, 180.0, 300.5])
    hsv = rgb_to_hsv(batch / 255.0)
    hsv[..., 0] = (hsv[..., 0] + degrees.reshape(-1, 1, 1) / 360.0) % 1.0
    expected = np.clip(np.round(hsv_to_rgb(hsv) * 255.0), 0, 255).astype(np.uint8)
    assert np.array_equal(hue_rotate(batch, degrees), expected)
    assert not np.array_equal(expected, batch)
