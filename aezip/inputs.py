"""Turn command-line paths into 28x28 uint8 digit images (no torch).

Accepted inputs: folders (walked recursively, in sorted order), image files
Pillow reads (PNG, JPEG, BMP, GIF, TIFF, WebP, ...), MNIST IDX files (raw or
.gz) and .npy arrays.  Images that are not 28x28 white ink on black get
MNIST's own preprocessing (:func:`mnist_preprocess`).
"""

import io
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import container
from .errors import BadData, BadInput, NeedsPreprocessing
from .idx import is_idx_name, looks_like_idx, parse_idx_bytes

__all__ = ["Gathered", "gather", "read_stdin_images", "load_image", "mnist_preprocess", "IMAGE_EXTENSIONS", "MAX_IMAGE_PIXELS"]

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm", ".ppm", ".pbm"}
MAX_IMAGE_PIXELS = 64 * 1024 * 1024  # larger images are refused as decompression bombs
MAX_FILES = 1_000_000
# Where MNIST puts a digit's centre of mass (row, column; measured on the test set:
# 13.99, 14.01 on average), so preprocessed images look like what the models learned.
CENTRE = 14.0


@dataclass
class Gathered:
    """What :func:`gather` found."""
    images: list = field(default_factory=list)    # uint8 (k, 28, 28) arrays, in order
    names: list = field(default_factory=list)     # one relative name per image, or None for arrays
    skipped: list = field(default_factory=list)   # (path, reason) of files left out
    preprocessed: int = 0                         # images that went through MNIST preprocessing
    source_form: int = 0                          # container.SOURCE_* when the input was one array file
    original_bytes: int = 0                       # bytes of the input files

    def stack(self):
        return np.concatenate(self.images) if self.images else np.zeros((0, 28, 28), np.uint8)

    @property
    def count(self):
        return sum(len(a) for a in self.images)


def _read_array_file(path, data, exact_shape=None):
    """IDX or .npy bytes -> (uint8 (N, 28, 28), number preprocessed), or raise BadInput.

    With *exact_shape* (h, w) the images must already be that size: no preprocessing.
    """
    name = str(path)
    if name.endswith(".npy"):
        try:
            a = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:
            raise BadInput(f"{path}: not a readable .npy array ({e})") from None
    else:
        try:
            a = parse_idx_bytes(data, name)
        except BadData as e:
            raise BadInput(str(e)) from None
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] == 0:
        raise BadInput(f"{path}: expected an image stack of shape (N, H, W), found {a.shape}")
    if a.dtype.kind == "f" and np.isnan(a).any():
        raise BadInput(f"{path}: array of {a.dtype} holds NaN values (expected pixels)")
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
            a = np.rint(a * 255)
        elif a.dtype.kind not in "iuf" or a.min() < 0 or a.max() > 255:
            raise BadInput(f"{path}: array of {a.dtype} with values outside 0..255 (expected uint8 pixels)")
        a = a.astype(np.uint8)
    if exact_shape is not None:
        if a.shape[1:] != tuple(exact_shape):
            raise BadInput(f"{path}: expected {exact_shape[1]}x{exact_shape[0]} images, "
                           f"found {a.shape[2]}x{a.shape[1]}")
        return np.ascontiguousarray(a), 0
    if a.shape[1:] != (28, 28):
        return np.stack([mnist_preprocess(x) for x in a]), len(a)
    return np.ascontiguousarray(a), 0


SHRINK_ABOVE = 2048   # larger images are box-reduced by Pillow before any float array exists


def _shrink(img):
    """Reduce a big image (integer box filter) so that no side exceeds SHRINK_ABOVE:
    MNIST preprocessing ends at 20x20 anyway, and a float copy of a 64-Mpixel
    photo would take 512 MB."""
    side = max(img.size)
    if side <= SHRINK_ABOVE:
        return img
    return img.reduce(-(-side // SHRINK_ABOVE))


def _to_gray(img):
    """Any Pillow image -> float array in [0, 1], 1 = white, transparency over white paper.

    16-bit and 32-bit integer images are scaled by their type's range (8-bit data
    stored in a 32-bit image by 255); float images holding values in [0, 1] are
    taken as they are.  CMYK, YCbCr and the like go through Pillow's conversion to L.
    """
    from PIL import Image

    if img.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        wide = img.mode.startswith("I;16")
        f = img if img.mode == "F" else (img.convert("I") if wide else img).convert("F")
        a = np.asarray(_shrink(f), np.float64)
        if not np.isfinite(a).all():
            raise ValueError("float image holds NaN or infinite values")
        peak = a.max() if a.size else 0
        top = 65535.0 if wide or peak > 255 else (1.0 if img.mode == "F" and peak <= 1 else 255.0)
        return np.clip(a / top, 0, 1)
    if img.mode == "1":
        return np.asarray(_shrink(img.convert("L")), np.float64) / 255
    if img.mode in ("P", "PA", "LA", "RGBA", "La", "RGBa") or "transparency" in img.info:
        rgba = _shrink(img.convert("RGBA"))
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba)
    return np.asarray(_shrink(img.convert("L")), np.float64) / 255


def mnist_preprocess(gray):
    """MNIST's own normalisation of one grayscale image.

    *gray* is uint8 or float in [0, 1].  Dark ink on light paper is inverted;
    the image is cropped to the ink, fitted into 20x20 keeping its aspect
    ratio, and placed in 28x28 with its centre of mass where MNIST has it (CENTRE).
    """
    from PIL import Image

    a = np.asarray(gray, np.float64)
    if a.dtype != np.float64 or a.max() > 1:
        a = a / 255.0
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    if np.median(border) > 0.5:
        a = 1.0 - a
    a = np.clip(a - np.median(border if np.median(border) <= 0.5 else 1.0 - border), 0, 1)
    if a.max() <= 0:
        return np.zeros((28, 28), np.uint8)
    a = a / a.max()
    ys, xs = np.nonzero(a > 0.1)
    a = a[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    h, w = a.shape
    scale = 20.0 / max(h, w)
    nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
    small = Image.fromarray((a * 255).astype(np.uint8)).resize((nw, nh), Image.LANCZOS)
    s = np.asarray(small, np.float64)
    out = np.zeros((28, 28))
    total = s.sum()
    if total > 0:
        cy = (s.sum(1) * np.arange(nh)).sum() / total
        cx = (s.sum(0) * np.arange(nw)).sum() / total
    else:
        cy, cx = (nh - 1) / 2, (nw - 1) / 2
    top = int(round(CENTRE - cy))
    left = int(round(CENTRE - cx))
    top = min(max(top, 0), 28 - nh)
    left = min(max(left, 0), 28 - nw)
    out[top:top + nh, left:left + nw] = s
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def load_image(path, data=None, exact_shape=None):
    """Read one image file -> ((28, 28) uint8, preprocessed?).  Raises BadInput.

    With *exact_shape* (h, w) the image must already be that size; it is only made
    white-on-black (inverted when its border is light), never resized.
    """
    from PIL import Image, UnidentifiedImageError

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data) if data is not None else path) as img:
                w, h = img.size
                if w * h > MAX_IMAGE_PIXELS:
                    raise BadInput(f"{path}: {w}x{h} image exceeds the {MAX_IMAGE_PIXELS}-pixel limit "
                                   "(possible decompression bomb)")
                if w == 0 or h == 0:
                    raise BadInput(f"{path}: {w}x{h} image has no pixels")
                if exact_shape is not None and (h, w) != tuple(exact_shape):
                    raise BadInput(f"{path}: expected a {exact_shape[1]}x{exact_shape[0]} image, found {w}x{h}")
                if img.format == "JPEG" and max(w, h) > SHRINK_ABOVE:
                    img.draft(img.mode, (SHRINK_ABOVE, SHRINK_ABOVE))  # decode at 1/2..1/8 scale
                img.load()
                gray = _to_gray(img)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise BadInput(f"{path}: refused as a possible decompression bomb ({e})") from None
    except UnidentifiedImageError:
        raise BadInput(f"{path}: not an image Pillow can read") from None
    except BadInput:
        raise
    except (OSError, ValueError, SyntaxError, EOFError) as e:
        raise BadInput(f"{path}: corrupt or truncated image ({e})") from None
    dark_paper = np.median(np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])) < 0.5
    if exact_shape is not None:
        return np.rint((gray if dark_paper else 1.0 - gray) * 255).astype(np.uint8), False
    if gray.shape == (28, 28) and dark_paper:
        return np.rint(gray * 255).astype(np.uint8), False
    return mnist_preprocess(gray), True


def _walk(folder, seen, skipped=None, top=True):
    """Files below *folder*, sorted, following no symlinked folder twice.  A subfolder
    that cannot be listed is added to *skipped* (path, reason) when given; *folder*
    itself raises BadInput."""
    out = []
    try:
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError as e:
        if skipped is None or top:
            raise BadInput(f"{folder}: cannot list folder ({e.strerror})") from None
        skipped.append((Path(folder), f"{folder}: cannot list folder ({e.strerror})"))
        return out
    for e in entries:
        p = Path(e.path)
        try:
            if e.is_dir():
                key = p.resolve()
                if key in seen:
                    if skipped is not None and e.is_symlink():
                        skipped.append((p, f"{p}: symbolic link to a folder already read (loop or duplicate)"))
                    continue  # a symlink loop or a second link to the same folder
                seen.add(key)
                out.extend(_walk(p, seen, skipped, top=False))
            elif e.is_file():
                out.append(p)
            else:
                out.append(p)  # broken link or special file: reported when read
        except OSError:
            out.append(p)
        if len(out) > MAX_FILES:
            raise BadInput(f"{folder}: more than {MAX_FILES} files")
    return out


def _read_file_bytes(path):
    try:
        if not path.is_file():
            raise BadInput(f"{path}: not a regular file (broken link or special file)")
        return path.read_bytes()
    except BadInput:
        raise
    except OSError as e:
        raise BadInput(f"{path}: cannot read ({e.strerror})") from None


def _jobs(paths, skipped):
    """(path, display name, named on the command line?) of every file *paths* lead to."""
    jobs = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = _walk(p, {p.resolve()}, skipped)
            if not files:
                raise BadInput(f"{p}: empty folder, no images to compress"
                               + (f" ({len(skipped)} entries skipped)" if skipped else ""))
            jobs.extend((f, f.relative_to(p).as_posix(), False) for f in files)
        elif p.exists():
            jobs.append((p, p.name, True))
        elif p.is_symlink():
            raise BadInput(f"{p}: broken symbolic link")
        else:
            raise BadInput(f"{p}: no such file or folder")
    return jobs


def _image_names(entries):
    """One name per image from (name, image count, array file?) entries: an array file
    ``a/b.npy`` of n images gives ``a/b/00000.png`` ... ``a/b/{n-1:05d}.png``."""
    names = []
    for name, n, is_array in entries:
        if is_array:
            stem = name.rsplit("/", 1)[-1].split(".")[0]
            base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
            names += [f"{base}{stem}/{i:05d}.png" for i in range(n)]
        else:
            names.append(name)
    return names


def _refuse_preprocessing(path, pre, keep_pixels):
    if keep_pixels and pre:
        raise NeedsPreprocessing(
            f"{path}: not a 28x28 white-on-black grayscale image, so it would need MNIST preprocessing; "
            f"{keep_pixels} stores the pixels you give exactly (use --preprocess to store the preprocessed image)")


def gather(paths, progress=None, exact_shape=None, keep_pixels=None):
    """Collect images from *paths*.  Files named on the command line must be readable;
    unreadable files found inside folders are skipped and listed in ``skipped``.
    With *exact_shape* (h, w), images must have that size already (see load_image).
    With *keep_pixels* (the name of a mode that stores pixels exactly), an image that would
    need MNIST preprocessing is an error naming the file, never a skip."""
    got = Gathered()
    entries = []  # (display name, image count, array file?) per file read
    for path, name, explicit in _jobs(paths, got.skipped):
        if progress:
            progress()
        lower = path.name.lower()
        try:
            if lower.endswith(".npy") or is_idx_name(lower):
                data = _read_file_bytes(path)
                stack, pre = _read_array_file(path, data, exact_shape)
                _refuse_preprocessing(path, pre, keep_pixels)
                entries.append((name, len(stack), True))
                got.source_form = container.SOURCE_NPY if lower.endswith(".npy") else container.SOURCE_IDX
            else:
                if not explicit and Path(lower).suffix not in IMAGE_EXTENSIONS:
                    raise BadInput(f"{path}: not an image file (by its name)")
                data = _read_file_bytes(path)
                if not data:
                    raise BadInput(f"{path}: empty file")
                img, pre = load_image(path, data, exact_shape)
                _refuse_preprocessing(path, pre, keep_pixels)
                stack = img[None]
                entries.append((name, 1, False))
            got.images.append(stack)
            got.preprocessed += pre
            got.original_bytes += len(data)
        except BadInput as e:
            if explicit or isinstance(e, NeedsPreprocessing):
                raise
            got.skipped.append((path, str(e)))
    if not got.images:
        why = ""
        if got.skipped:
            first = got.skipped[0][1]
            why = f" ({len(got.skipped)} files skipped" + (": " if len(got.skipped) == 1 else "; the first: ") + first + ")"
        error = BadInput(f"{', '.join(map(str, paths))}: no images found{why}")
        error.skipped = got.skipped   # every reason, for a caller that lists them (-v)
        raise error
    # One array file alone keeps its form and needs no names; otherwise name every image.
    if len(entries) == 1 and entries[0][2]:
        got.names = None
    else:
        got.source_form = container.SOURCE_IMAGES
        got.names = _image_names(entries)
    return got


def read_stdin_images(data, exact_shape=None, keep_pixels=None):
    """Images from bytes on stdin, recognised by their first bytes: .npy, IDX (raw or
    gzip) or one image file Pillow reads."""
    got = Gathered(original_bytes=len(data))
    if data[:6] == b"\x93NUMPY":
        stack, got.preprocessed = _read_array_file("<stdin>.npy", data, exact_shape)
        got.names, got.source_form = None, container.SOURCE_NPY
    elif looks_like_idx(data):
        stack, got.preprocessed = _read_array_file("<stdin>", data, exact_shape)
        got.names, got.source_form = None, container.SOURCE_IDX
    else:
        img, pre = load_image("<stdin>", data, exact_shape)
        stack, got.preprocessed = img[None], int(pre)
        got.names, got.source_form = ["stdin.png"], container.SOURCE_IMAGES
    _refuse_preprocessing("<stdin>", got.preprocessed, keep_pixels)
    got.images.append(stack)
    return got
