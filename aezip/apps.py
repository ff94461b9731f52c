"""The lecture's applications of autoencoders: denoising, up-sampling, pictures.

``denoise(images)`` runs the bundled denoising autoencoder (trained with
Gaussian and salt-and-pepper noise on the input and the clean digit as the
target) and ``upscale(images)`` the bundled 14x14 -> 28x28 model.  Both take
and return uint8 pixel stacks and use the numpy runtime only (no torch).

The rest are the pieces the benchmark, the tests and ``aezip show`` share:
the noise models and the 2x2 down-sampling the models were trained with, the
classic baselines they are compared with (3x3 median filter, bicubic
resizing), and :func:`picture`, the lecture's Step 7 grid with PSNR labels.
"""

import math

import numpy as np

from . import zoo
from .errors import BadInput

__all__ = ["DENOISE_MODEL", "UPSCALE_MODEL", "denoise", "upscale", "add_noise", "downscale",
           "median3", "bicubic", "picture", "psnr_labels"]

DENOISE_MODEL = "denoise"   # trained/denoise.json
UPSCALE_MODEL = "upscale"   # trained/upscale.json


def _check(images, shape, what):
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise BadInput(f"{what}: images must be uint8, got {a.dtype}")
    single = a.ndim == 2
    if single:
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != shape:
        raise BadInput(f"{what}: images must have shape (N, {shape[0]}, {shape[1]}), got {np.shape(images)}")
    return a, single


def _model(name, task):
    model = name if isinstance(name, zoo.Model) else zoo.get_model(name)
    if model.task != task:
        raise BadInput(f"model {model.name!r} is a {model.task} model, not a {task} model")
    return model


def denoise(images, model=DENOISE_MODEL):
    """Denoise uint8 digit images (N, 28, 28) -> uint8 (N, 28, 28).

    A single (28, 28) image gives a single image back.  *model* names an
    installed model whose task is ``denoise`` (or is a loaded ``zoo.Model``).
    """
    a, single = _check(images, (28, 28), "denoise")
    out = _model(model, "denoise").run(a)
    return out[0] if single else out


def upscale(images, model=UPSCALE_MODEL):
    """Up-sample uint8 digit images (N, 14, 14) -> uint8 (N, 28, 28).

    The model was trained on 28x28 MNIST digits box-averaged to 14x14
    (:func:`downscale`), so that is the input it expects.  A single (14, 14)
    image gives a single (28, 28) image back.
    """
    a, single = _check(images, (14, 14), "upscale")
    out = _model(model, "upscale").run(a)
    return out[0] if single else out


def add_noise(images, spec, seed=0):
    """Corrupt uint8 images with the noise the denoiser was trained on (numpy, seeded).

    *spec* is ``gauss:SIGMA`` (additive Gaussian noise, pixels in [0, 1],
    clipped and rounded to 8 bits) or ``sp:FRACTION`` (that fraction of the
    pixels set to black or white, half each), as ``aezip train --noise``.
    """
    a = np.asarray(images, np.uint8)
    kind, _, level = str(spec).partition(":")
    try:
        level = float(level)
    except ValueError:
        level = math.nan
    if not level >= 0 or kind not in ("gauss", "sp"):
        raise BadInput(f"noise {spec!r} must be gauss:SIGMA or sp:FRACTION")
    rng = np.random.default_rng(seed)
    if kind == "gauss":
        noisy = a / 255.0 + level * rng.standard_normal(a.shape)
        return np.rint(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    u = rng.random(a.shape)
    out = a.copy()
    out[u < level / 2] = 0
    out[(u >= level / 2) & (u < level)] = 255
    return out


def downscale(images):
    """uint8 (N, 28, 28) -> (N, 14, 14) by 2x2 box averaging, rounded (the upscaler's input)."""
    a, single = _check(images, (28, 28), "downscale")
    small = np.rint(a.reshape(-1, 14, 2, 14, 2).astype(np.float32).mean((2, 4))).astype(np.uint8)
    return small[0] if single else small


def median3(images):
    """The classic baseline: a 3x3 median filter (edges mirrored, as scipy's default)."""
    a = np.asarray(images, np.uint8)
    n, h, w = a.shape
    p = np.pad(a, ((0, 0), (1, 1), (1, 1)), mode="symmetric")
    stack = np.stack([p[:, i:i + h, j:j + w] for i in range(3) for j in range(3)])
    return np.partition(stack, 4, axis=0)[4]


def bicubic(images, size=(28, 28)):
    """The classic baseline: Pillow's bicubic resize of each uint8 image."""
    from PIL import Image

    a = np.asarray(images, np.uint8)
    return np.stack([np.asarray(Image.fromarray(x).resize(size, Image.BICUBIC)) for x in a]) if len(a) else \
        np.zeros((0,) + size[::-1], np.uint8)


def _font(size):
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _label(score):
    if score is None:
        return ""
    if math.isinf(score):
        return "exact"
    return f"{score:.1f}"


def picture(rows, labels=None, scale=3, caption=None):
    """The lecture's Step 7 layout: one row per stack (e.g. originals over reconstructions).

    *rows* is a list of uint8 stacks (N, h, w) of the same N; a smaller stack
    (e.g. 14x14 inputs) is enlarged to the largest size with nearest pixels.
    *labels* gives one text per column (e.g. the reconstruction's PSNR),
    written under the last row.  Returns a Pillow image (mode L).
    """
    from PIL import Image, ImageDraw

    n = len(rows[-1])
    h = max(r.shape[1] for r in rows)
    w = max(r.shape[2] for r in rows)
    cell_w, cell_h = w * scale, h * scale
    gap = 2 * scale
    text_h = 0
    font = None
    if labels is not None or caption:
        font = _font(max(10, 4 * scale))
        text_h = font.getbbox("0.9 dB")[3] + 2 * gap
    cap_h = text_h if caption else 0
    width = n * (cell_w + gap) + gap
    height = cap_h + len(rows) * (cell_h + gap) + gap + (text_h if labels is not None else 0)
    img = Image.new("L", (max(width, 1), height), 128)
    for r, stack in enumerate(rows):
        y = cap_h + gap + r * (cell_h + gap)
        for i in range(n):
            tile = Image.fromarray(np.ascontiguousarray(stack[i])).resize((cell_w, cell_h), Image.NEAREST)
            img.paste(tile, (gap + i * (cell_w + gap), y))
    draw = ImageDraw.Draw(img)
    if caption:
        draw.text((gap, gap), caption, fill=255, font=font)
    if labels is not None:
        y = cap_h + gap + len(rows) * (cell_h + gap)
        for i, text in enumerate(labels):
            x = gap + i * (cell_w + gap) + (cell_w - draw.textlength(text, font=font)) / 2
            draw.text((x, y), text, fill=255, font=font)
    return img


def psnr_labels(scores):
    """Column labels for :func:`picture` from per-image PSNRs in dB (inf = exact)."""
    return [_label(float(s)) for s in scores]
