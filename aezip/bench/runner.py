"""Running the benchmark: which (codec, setting) pairs to measure, the measurement of one,
the rows and report they make, and the generated non-digit image sets."""

import gzip
import math
import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import BadInput, RoundTripError
from ..inputs import mnist_preprocess
from ..metrics import psnr, ssim
from .codecs import CODECS, PCA_COMPONENTS, _Aezip, _codecs, _Pca

RAW_BYTES = 28 * 28               # one 8-bit 28x28 image
DEFAULT_SUBSET = 1000             # images the slow codecs see (evenly spaced)
DEFAULT_OOD = 100                 # images of each non-digit kind


# ---------------------------------------------------------------------------
# Rows and reports


@dataclass
class Row:
    """One measured (codec, setting)."""
    family: str           # "aezip", "lossless", "lossy" or "pca"
    codec: str            # short codec name, as --only takes it
    label: str            # what the table shows, e.g. "gzip -9 (one stream)"
    setting: str          # e.g. "q=50", "k=16"
    unit: str             # "archive", "stream" or "file per image"
    images: int           # images measured (fewer than the input for the slow codecs)
    total_bytes: int      # bytes of everything the decoder needs, for those images
    bytes_per_image: float
    ratio_raw: float      # 784 / bytes_per_image
    ratio_gzip: float     # gzip -9 stream bytes per image / bytes_per_image
    psnr: float | None    # dB; None when the round trip is exact
    ssim: float           # mean over images; 1.0 when exact
    encode_ips: float     # images per second
    decode_ips: float
    exact: bool           # decoded bit for bit identical (verified)
    note: str = ""
    seconds: float = 0.0  # wall time of this row: encode, decode, checks and metrics


@dataclass
class Report:
    """The rows of one benchmark run and what they were measured on."""
    source: str
    count: int
    rows: list
    notes: list = field(default_factory=list)   # codecs or settings skipped, and why
    pca_fit: str = ""
    pca_fit_seconds: float = 0.0
    subset: int = 0
    seconds: float = 0.0
    gzip_bytes_per_image: float = 0.0

    def by_family(self, *families):
        return [r for r in self.rows if r.family in families]




# ---------------------------------------------------------------------------
# Running


def _subset(images, limit):
    """Every k-th image so that at most *limit* remain (all when limit is 0)."""
    if not limit or len(images) <= limit:
        return images, ""
    stride = math.ceil(len(images) / limit)
    sub = images[::stride]
    return sub, f"every {stride}th image ({len(sub):,} of {len(images):,})"


def _measure(codec, setting, params, images, note):
    codec.prepare(params)
    t0 = time.perf_counter()
    enc = codec.encode(images, params)
    t1 = time.perf_counter()
    out = codec.decode(enc, params, len(images))
    t2 = time.perf_counter()
    total = sum(len(f) for f in enc) if isinstance(enc, list) else len(enc)
    if out.shape != images.shape or out.dtype != np.uint8:
        raise RoundTripError(f"{codec.label} {setting}: decoded {out.dtype} {out.shape}, expected uint8 "
                             f"{images.shape}")
    exact = bool(np.array_equal(out, images))
    if codec.lossless and not exact:
        bad = int(np.flatnonzero((out != images).reshape(len(images), -1).any(1))[0])
        raise RoundTripError(f"{codec.label} {setting}: lossless round trip failed (image #{bad} differs)")
    n = len(images)
    bpi = total / n
    row = Row(codec.family, codec.name, codec.label, setting, codec.unit, n, total, bpi,
              RAW_BYTES / bpi, float("nan"),
              None if exact else psnr(images, out), 1.0 if exact else ssim(images, out),
              n / max(t1 - t0, 1e-9), n / max(t2 - t1, 1e-9), exact, note)
    row.seconds = time.perf_counter() - t0
    return row


def plan(only=None, pca=None):
    """[(codec, setting, params)] to run, and notes on what is skipped."""
    codecs, notes = _codecs(), []
    if only is not None:
        unknown = [n for n in only if n not in CODECS]
        if unknown:
            raise BadInput(f"--only: unknown codec {', '.join(map(repr, unknown))} "
                           f"(choose from {', '.join(CODECS)})")
        codecs = [c for c in codecs if c.name in only]
    jobs = []
    for c in codecs:
        if isinstance(c, _Pca):
            c.basis = pca
        why = c.missing()
        if why:
            notes.append(f"{c.label}: skipped, {why}")
            continue
        for setting, params in c.settings():
            jobs.append((c, setting, params))
        if isinstance(c, _Pca):
            left = [k for k in PCA_COMPONENTS if k > len(pca.std)]
            if left:
                notes.append(f"PCA k={', '.join(map(str, left))}: skipped, the fit set "
                             f"({pca.fit_count} images) spans only {len(pca.std)} components")
    return jobs, notes


def run_bench(images, *, source, pca=None, only=None, subset=DEFAULT_SUBSET, progress=None, names=None,
              source_form=0):
    """Measure every available codec and setting on uint8 (N, 28, 28) *images*.

    :param source: what the images are, in words (for the report).
    :param pca: a :class:`PcaBasis` (from :func:`fit_pca`); without one PCA is skipped.
    :param only: codec names to run (default: all of :data:`CODECS`).
    :param subset: the slow codecs see at most this many evenly spaced images (0: all).
    :param progress: called with (done, total, label) before each measurement.
    :param names: the names `aezip compress` would store for the images (and *source_form*,
        a container.SOURCE_* value): aezip's rows then count the whole file it writes.
    """
    images = np.ascontiguousarray(images, np.uint8)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise BadInput(f"{source}: bench needs 28x28 images, got an array of shape {images.shape}")
    t0 = time.perf_counter()
    jobs, notes = plan(only, pca)
    for codec, _, _ in jobs:
        if isinstance(codec, _Aezip):
            codec.names, codec.source_form = names, source_form
    small, sub_note = _subset(images, subset)
    rows = []
    for i, (codec, setting, params) in enumerate(jobs):
        if progress:
            progress(i, len(jobs), f"{codec.label} {setting}".strip())
        use, note = (small, sub_note) if codec.slow else (images, "")
        note = "; ".join(x for x in ((params or {}).get("_note", ""), note) if x)
        rows.append(_measure(codec, setting, params, use, note))
    # The reference for "x gzip-9": the gzip stream row, or the same stream made here.
    ref = next((r for r in rows if r.codec == "gzip" and r.images == len(images)), None)
    gzip_bpi = ref.bytes_per_image if ref else len(gzip.compress(images.tobytes(), 9, mtime=0)) / len(images)
    for r in rows:
        r.ratio_gzip = gzip_bpi / r.bytes_per_image
    if progress:
        progress(len(jobs), len(jobs), "done")
    return Report(source, len(images), rows, notes, pca.source if pca else "", pca.seconds if pca else 0.0,
                  subset, time.perf_counter() - t0, gzip_bpi)




# ---------------------------------------------------------------------------
# Images unlike digits


def nondigit_images(count=DEFAULT_OOD, seed=0):
    """Two deterministic sets of 28x28 images that are not digits: {"letters": ..., "noise": ...}.

    Letters are Latin capitals and lower-case letters (not digits) rendered with
    Pillow's default font at random sizes and offsets, then given MNIST's own
    preprocessing (as ``aezip compress`` does to any image that is not 28x28);
    noise is uniform random pixels.
    """
    from PIL import Image, ImageDraw, ImageFont


    rng = np.random.default_rng(seed)
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabdefghkmnpqrtwxyz&#@%"
    letters = np.empty((count, 28, 28), np.uint8)
    for i in range(count):
        ch = alphabet[int(rng.integers(len(alphabet)))]
        size = int(rng.integers(28, 48))
        try:
            font = ImageFont.load_default(size=size)
        except TypeError:  # Pillow without FreeType: the fixed bitmap font
            font = ImageFont.load_default()
        canvas = Image.new("L", (64, 64), 0)
        ImageDraw.Draw(canvas).text((int(rng.integers(4, 16)), int(rng.integers(0, 10))), ch, fill=255, font=font)
        letters[i] = mnist_preprocess(np.asarray(canvas))
    noise = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
    return {"letters": letters, "noise": noise}
