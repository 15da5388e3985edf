"""Which regions pushed a prediction towards the target artist: Grad-CAM on the saved model.

For each feature map the model's pooling reads, the map is gradient x activation summed over
channels, keeping the positive part (for the `gap` pooling this is exactly Grad-CAM on the last
block; for `style`, which also pools standard deviations, it keeps Grad-CAM's meaning position by
position). Maps of several blocks are scaled to [0, 1], averaged and upsampled to the image.
"""
import numpy as np
from matplotlib import colormaps
from PIL import Image, ImageDraw, ImageFont

MIN_SIDE = 256  # small images are enlarged by a whole factor so the overlay stays readable


def heatmaps(model, images):
    """(probabilities, heatmaps in [0, 1] of shape (n, size, size), the pooled features the head took)
    for uint8 images (n, size, size, 3)."""
    import tensorflow as tf
    from keras import ops

    size = images.shape[1]
    maps = model.get_layer("backbone")(model.get_layer("normalise")(images))
    maps = [tf.convert_to_tensor(m) for m in maps]
    pooling, head = model.get_layer("pooling"), model.get_layer("head")
    used = [pooling.index] if hasattr(pooling, "index") else list(pooling.indices)
    with tf.GradientTape() as tape:
        tape.watch(maps)
        pooled = pooling(maps)
        probability = head(pooled)
        logit = tf.math.log(probability + 1e-7) - tf.math.log(1 - probability + 1e-7)
    grads = tape.gradient(logit, maps)
    total = np.zeros((len(images), size, size), dtype=np.float32)
    for i in used:
        cam = tf.nn.relu(tf.reduce_sum(grads[i] * maps[i], axis=-1))[..., None]
        cam = cam / (tf.reduce_max(cam, axis=(1, 2, 3), keepdims=True) + 1e-12)
        total += ops.convert_to_numpy(tf.image.resize(cam, (size, size), method="bilinear"))[..., 0]
    total /= np.maximum(total.max(axis=(1, 2), keepdims=True), 1e-12)
    return ops.convert_to_numpy(probability).ravel(), total, ops.convert_to_numpy(pooled)


def to_original(heat, width, height, mode):
    """Map a heatmap of the model's square input back onto the original image's pixel grid."""
    size = heat.shape[0]
    square = Image.fromarray(heat.astype(np.float32), mode="F")
    if mode == "stretch":
        return np.asarray(square.resize((width, height), Image.Resampling.BILINEAR))
    if mode == "pad":  # the content box of ImageOps.pad (centred)
        scale = min(size / width, size / height)
        w, h = max(1, round(width * scale)), max(1, round(height * scale))
        left, top = round((size - w) / 2), round((size - h) / 2)
        box = square.crop((left, top, left + w, top + h))
        return np.asarray(box.resize((width, height), Image.Resampling.BILINEAR))
    # crop: the model saw the central square; outside it nothing was seen
    scale = max(size / width, size / height)
    w, h = round(size / scale), round(size / scale)
    out = np.zeros((height, width), dtype=np.float32)
    left, top = (width - w) // 2, (height - h) // 2
    out[top:top + h, left:left + w] = np.asarray(square.resize((w, h), Image.Resampling.BILINEAR))
    return out


def overlay(rgb, heat, caption):
    """The image with the heatmap blended over it and the caption written on it (PIL image)."""
    factor = max(1, -(-MIN_SIDE // min(rgb.size)))
    if factor > 1:
        rgb = rgb.resize((rgb.width * factor, rgb.height * factor), Image.Resampling.NEAREST)
        heat = np.asarray(Image.fromarray(heat, mode="F").resize(rgb.size, Image.Resampling.BILINEAR))
    colour = (colormaps["jet"](np.clip(heat, 0, 1))[..., :3] * 255).astype(np.uint8)
    alpha = (0.7 * np.clip(heat, 0, 1))[..., None]
    blended = (np.asarray(rgb, dtype=np.float32) * (1 - alpha) + colour * alpha).astype(np.uint8)
    out = Image.fromarray(blended, "RGB")
    draw = ImageDraw.Draw(out, "RGBA")
    font = ImageFont.load_default(size=max(10, out.width // 22))
    box = draw.textbbox((4, 4), caption, font=font)
    draw.rectangle((0, 0, min(out.width, box[2] + 6), box[3] + 4), fill=(0, 0, 0, 170))
    draw.text((4, 4), caption, fill=(255, 255, 255), font=font)
    return out


def caption(probability, threshold, unknown=False):
    label = "unknown" if unknown else "target" if probability >= threshold else "other"
    return f"p(target) = {probability:.2f} -> {label}"


def explain_arrays(model, images, threshold):
    """Overlays (PIL images, model input size) for preprocessed uint8 images; .info["predicted"] is 0/1."""
    probs, heats, _ = heatmaps(model, images)
    out = []
    for img, heat, p in zip(images, heats, probs):
        out.append(overlay(Image.fromarray(img), heat, caption(p, threshold)))
        out[-1].info["predicted"] = int(p >= threshold)
    return out


def explain_original(rgb, heat, probability, threshold, mode, unknown=False):
    """Overlay on the original image (PIL RGB) of a heatmap computed on its prepared version."""
    return overlay(rgb, to_original(heat, rgb.width, rgb.height, mode), caption(probability, threshold, unknown))


def examples_png(path, model, images, labels, threshold, title):
    """A grid of overlays for some test images, each captioned with its true label (mistakes in red)."""
    from artist_style.evaluation.plots import CLASS_NAMES, mosaic_png
    overlays = explain_arrays(model, images, threshold)
    captions = []
    for overlay_image, label in zip(overlays, labels):
        wrong = overlay_image.info.get("predicted") != label
        captions.append((f"true {CLASS_NAMES[label]}" + (" (mistake)" if wrong else ""), "red" if wrong else "black"))
    mosaic_png(path, overlays, captions, title, columns=min(4, len(overlays)), tile=224)
