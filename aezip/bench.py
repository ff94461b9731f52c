"""``aezip bench``: aezip's models side by side with gzip, xz, PNG, JPEG, WebP, AVIF and PCA.

Everything is measured here, in one process, on the same images::

    aezip bench ../shared/mnist/t10k-images-idx3-ubyte.gz --fit-data ../shared/mnist \\
        --markdown bench/mnist-test.md --json bench/mnist-test.json --plot bench/mnist-test.png

Accounting (every row): *bytes per image* is the size of everything a decoder
needs except the model, divided by the number of images -- the whole ``.aez``
file for aezip; the whole stream for the lossless stream codecs, which code the
raw pixels (784 bytes per image, no IDX header) as one stream; the sum of the
real file sizes, headers included, for the one-file-per-image codecs; for PCA
a small header (image count, k, step, per-component offsets) plus the quantized
coefficients in one zstd frame made exactly as aezip makes its Codes section.  Lossless rows are decoded and compared bit for
bit; a mismatch raises :class:`RoundTripError`, never becomes a row.  PSNR is
:func:`aezip.metrics.psnr` (pixels in [0, 1], MSE over all pixels of all images);
SSIM is :func:`ssim` (7x7 uniform window), averaged over images.

Only numpy, Pillow and zstandard are needed; brotli and AVIF are used when
installed, and otherwise skipped with a note; matplotlib only for the plot.
"""

import bz2
import gzip
import io
import lzma
import math
import platform
import struct
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import container
from .errors import AezError, BadInput, RoundTripError

__all__ = ["RoundTripError", "Row", "Report", "PcaBasis", "CODECS", "SLOW_CODECS", "fit_pca", "run_bench", "ssim",
           "nondigit_images", "to_json", "to_markdown", "plot", "summary_lines", "check_plot_support"]

RAW_BYTES = 28 * 28               # one 8-bit 28x28 image
DEFAULT_SUBSET = 1000             # images the slow codecs see (evenly spaced)
DEFAULT_OOD = 100                 # images of each non-digit kind
# PCA sizes: k components, each quantized with step = std of the k-th component
# (one absolute step for all: about equal distortion per component).
PCA_COMPONENTS = (6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
JPEG_QUALITIES = (1, 5, 10, 25, 50, 75, 95)
WEBP_QUALITIES = (0, 5, 10, 25, 50, 75, 95)
AVIF_QUALITIES = (0, 25, 50, 75)
SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


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
# SSIM


def _box_sum(a, w):
    """Sum over every w x w window of each image in an integer (N, H, W) stack (valid windows only)."""
    c = np.zeros((a.shape[0], a.shape[1] + 1, a.shape[2] + 1), a.dtype)
    np.cumsum(a, axis=1, out=c[:, 1:, 1:])
    np.cumsum(c[:, 1:, 1:], axis=2, out=c[:, 1:, 1:])
    return c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]


def ssim_per_image(a, b, window=SSIM_WINDOW):
    """SSIM of each pair of uint8 images (Wang et al. 2004; uniform window, sample covariance,
    K1 = 0.01, K2 = 0.03, pixels in [0, 1]), the mean over valid windows.  Window sums are
    exact integers (int32 holds 28 * 28 * 255**2), so only the final formula is floating point."""
    a = np.asarray(a)
    b = np.asarray(b)
    out = np.empty(len(a))
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    n = window * window
    scale = 1.0 / (255 * 255 * n)
    for i in range(0, len(a), 2048):
        x = a[i:i + 2048].astype(np.int32)
        y = b[i:i + 2048].astype(np.int32)
        sx, sy = _box_sum(x, window).astype(np.float64), _box_sum(y, window).astype(np.float64)
        sxx, syy, sxy = (_box_sum(p, window) for p in (x * x, y * y, x * y))
        mx, my = sx * (1 / (255 * n)), sy * (1 / (255 * n))
        # sample (co)variances: (sum(pq) - sum(p) sum(q) / n) / (n - 1), in [0, 1] pixel units
        vx = (sxx - sx * sx / n) * (scale * n / (n - 1))
        vy = (syy - sy * sy / n) * (scale * n / (n - 1))
        vxy = (sxy - sx * sy / n) * (scale * n / (n - 1))
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out[i:i + 2048] = s.reshape(len(s), -1).mean(1)
    return out


def ssim(a, b, window=SSIM_WINDOW):
    """Mean SSIM over a stack of uint8 image pairs."""
    return float(ssim_per_image(a, b, window).mean())


# ---------------------------------------------------------------------------
# Codecs.  Each has: name, family, label, unit, slow, settings() -> [(setting, params)],
# missing() -> None or why it cannot run, encode(images, params) -> bytes or a list of
# bytes (one per image), decode(encoded, params, count) -> uint8 (count, 28, 28).


class _Codec:
    name = family = label = unit = ""
    slow = False           # measured on an evenly spaced subset
    lossless = False

    def settings(self):
        return [("", None)]

    def missing(self):
        return None

    def prepare(self, params):
        """One-time set-up (loading a model) that encode/decode timings should not include."""


class _Stream(_Codec):
    """A general-purpose compressor over all raw pixels as one stream."""
    family, unit, lossless = "lossless", "stream", True

    def __init__(self, name, label, setting, comp, decomp, module=None):
        self.name, self.label, self._setting = name, label, setting
        self._comp, self._decomp, self._module = comp, decomp, module

    def settings(self):
        return [(self._setting, None)]

    def missing(self):
        if self._module:
            try:
                __import__(self._module)
            except ImportError:
                return f"not installed (pip install {self._module})"
        return None

    def encode(self, images, params):
        return self._comp(images.tobytes())

    def decode(self, blob, params, count):
        return np.frombuffer(self._decomp(blob), np.uint8).reshape(-1, 28, 28)


def _zstd_compress(data, level=19):
    import zstandard
    return zstandard.ZstdCompressor(level=level, write_checksum=True).compress(data)


def _zstd_decompress(data):
    import zstandard
    return zstandard.ZstdDecompressor().decompress(data)


def _brotli_compress(data):
    import brotli
    return brotli.compress(data, quality=11, lgwin=24)


def _brotli_decompress(data):
    import brotli
    return brotli.decompress(data)


class _GzipFiles(_Codec):
    """gzip -9n of each image's 784 raw bytes as its own file (18 bytes of header and trailer)."""
    name, family, label, unit, lossless = "gzip-file", "lossless", "gzip -n (one file per image)", \
        "file per image", True

    def settings(self):
        return [("-9", None)]

    def encode(self, images, params):
        return [gzip.compress(im.tobytes(), 9, mtime=0) for im in images]

    def decode(self, files, params, count):
        return np.stack([np.frombuffer(gzip.decompress(f), np.uint8).reshape(28, 28) for f in files])


class _Pillow(_Codec):
    """One image file per image through Pillow; real file bytes, headers included."""
    unit = "file per image"

    def __init__(self, name, family, label, fmt, feature, grid, kwargs, slow=False):
        self.name, self.family, self.label, self.fmt, self.feature = name, family, label, fmt, feature
        self.grid, self.kwargs, self.slow = grid, kwargs, slow
        self.lossless = family == "lossless"

    def settings(self):
        if self.grid is None:
            return [(", ".join(f"{k}={v}" for k, v in self.kwargs.items() if k != "lossless") or "default",
                     dict(self.kwargs))]
        return [(f"q={q}", dict(self.kwargs, quality=q)) for q in self.grid]

    def missing(self):
        from PIL import features
        if self.feature and not features.check(self.feature):
            return f"this Pillow ({features.version('pil')}) has no {self.fmt} support"
        return None

    def encode(self, images, params):
        from PIL import Image
        out = []
        for im in images:
            buf = io.BytesIO()
            Image.fromarray(im).save(buf, format=self.fmt, **params)
            out.append(buf.getvalue())
        return out

    def decode(self, files, params, count):
        from PIL import Image
        out = np.empty((len(files), 28, 28), np.uint8)
        for i, f in enumerate(files):
            with Image.open(io.BytesIO(f)) as img:
                out[i] = np.asarray(img.convert("L"))
        return out


class _Aezip(_Codec):
    """Every quality level of zoo.LADDER, through AezCompressor / AezDecompressor."""
    name, family, label, unit = "aezip", "aezip", "aezip", "archive"

    def settings(self):
        from .zoo import LADDER, cards
        out = []
        for q, (model, frac) in sorted(LADDER.items()):
            step = f"1/{round(1 / frac)}" if frac < 1 and abs(1 / frac - round(1 / frac)) < 1e-6 else f"{frac:g}"
            unit = "trained step" if cards().get(model, {}).get("config", {}).get("quant_noise") else "std"
            out.append((f"q{q}", {"quality": q, "_note": f"{model}, step {step} x {unit}"}))
        return out

    def prepare(self, params):
        from .codec import AezCompressor
        from .zoo import ladder_row, get_model
        self._compressor = AezCompressor(params["quality"])
        get_model(ladder_row(params["quality"])[0])  # the decoder finds it loaded

    def encode(self, images, params):
        return self._compressor.compress(images)

    def decode(self, blob, params, count):
        from .codec import AezDecompressor
        return AezDecompressor().decompress(blob)


@dataclass
class PcaBasis:
    """PCA fitted on a training set: the linear autoencoder."""
    mean: np.ndarray        # (784,) in [0, 1] pixel units
    components: np.ndarray  # (784, K) orthonormal columns, by decreasing variance
    std: np.ndarray         # (K,) standard deviation of each coefficient on the fit set
    source: str             # what it was fitted on, in words
    fit_count: int
    seconds: float = 0.0


def fit_pca(images, source, max_components=max(PCA_COMPONENTS)):
    """Fit PCA on uint8 (N, 28, 28) images (eigenvectors of the pixel covariance)."""
    t0 = time.perf_counter()
    x = images.reshape(len(images), -1).astype(np.float32) / np.float32(255)
    mean = x.mean(0, dtype=np.float64)
    xc = x - mean.astype(np.float32)
    cov = (xc.T @ xc).astype(np.float64) / max(len(x) - 1, 1)
    w, v = np.linalg.eigh(cov)
    order = np.argsort(w)[::-1]
    # A set of n images spans at most n - 1 directions around its mean.
    k = min(max_components, max(len(images) - 1, 0), 784)
    w, v = w[order][:k], v[:, order][:, :k]
    # Fix each eigenvector's sign (largest entry positive) so the output is deterministic.
    signs = np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(k)])
    v = v * np.where(signs == 0, 1, signs)
    return PcaBasis(mean, v, np.sqrt(np.clip(w, 0, None)), source, len(images), time.perf_counter() - t0)


_PCA_HEAD = struct.Struct("<IHfB")   # image count, k, step, bytes per code (1 or 2)


class _Pca(_Codec):
    """Project on k components, quantize with one step, zstd the codes (dimension-major) as aezip does."""
    name, family, label, unit = "pca", "pca", "PCA (linear AE)", "stream"

    def __init__(self):
        self.basis = None

    def settings(self):
        if self.basis is None:
            return []
        return [(f"k={k}", {"k": k}) for k in PCA_COMPONENTS if k <= len(self.basis.std)]

    def missing(self):
        if self.basis is None or len(self.basis.std) == 0:
            return "no fit set with at least 2 images"
        return None

    def encode(self, images, params):
        b, k = self.basis, params["k"]
        step = float(b.std[k - 1]) or 1.0
        x = images.reshape(len(images), -1).astype(np.float64) / 255 - b.mean
        q = np.rint((x @ b.components[:, :k]) / np.float32(step)).astype(np.int64)
        lo = q.min(0)
        q -= lo
        size = 1 if q.max(initial=0) < 256 else 2
        codes = np.ascontiguousarray(q.T.astype(np.uint8 if size == 1 else "<u2"))
        head = _PCA_HEAD.pack(len(images), k, step, size) + lo.astype("<i4").tobytes()
        return head + container.code_frame(codes)  # zstd framed as aezip frames its codes

    def decode(self, blob, params, count):
        b = self.basis
        n, k, step, size = _PCA_HEAD.unpack_from(blob)
        at = _PCA_HEAD.size
        lo = np.frombuffer(blob, "<i4", k, at)
        codes = np.frombuffer(_zstd_decompress(blob[at + 4 * k:]), np.uint8 if size == 1 else "<u2")
        q = codes.reshape(k, n).T.astype(np.float64) + lo
        y = b.mean + (q * np.float32(step)) @ b.components[:, :k].T
        return np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).reshape(n, 28, 28)


def _codecs():
    return [
        _Aezip(),
        _Stream("gzip", "gzip -n (one stream)", "-9", lambda d: gzip.compress(d, 9, mtime=0), gzip.decompress),
        _Stream("bzip2", "bzip2 (one stream)", "-9", lambda d: bz2.compress(d, 9), bz2.decompress),
        _Stream("xz", "xz (one stream)", "-9e", lambda d: lzma.compress(d, preset=9 | lzma.PRESET_EXTREME),
                lzma.decompress),
        _Stream("zstd", "zstd (one stream)", "-19", _zstd_compress, _zstd_decompress),
        _Stream("brotli", "brotli (one stream)", "q=11, lgwin=24", _brotli_compress, _brotli_decompress,
                module="brotli"),
        _GzipFiles(),
        _Pillow("png", "lossless", "PNG", "PNG", None, None, {"compress_level": 6}),
        _Pillow("webp-lossless", "lossless", "WebP lossless", "WEBP", "webp", None,
                {"lossless": True, "quality": 100, "method": 6}, slow=True),
        _Pillow("jpeg", "lossy", "JPEG (grayscale, optimized)", "JPEG", "jpg", JPEG_QUALITIES, {"optimize": True}),
        _Pillow("webp", "lossy", "WebP lossy", "WEBP", "webp", WEBP_QUALITIES, {"method": 6}, slow=True),
        _Pillow("avif", "lossy", "AVIF", "AVIF", "avif", AVIF_QUALITIES, {}, slow=True),
        _Pca(),
    ]


CODECS = [c.name for c in _codecs()]
SLOW_CODECS = [c.name for c in _codecs() if c.slow]   # measured on --subset images


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
    from .metrics import psnr
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


def run_bench(images, *, source, pca=None, only=None, subset=DEFAULT_SUBSET, progress=None):
    """Measure every available codec and setting on uint8 (N, 28, 28) *images*.

    :param source: what the images are, in words (for the report).
    :param pca: a :class:`PcaBasis` (from :func:`fit_pca`); without one PCA is skipped.
    :param only: codec names to run (default: all of :data:`CODECS`).
    :param subset: the slow codecs see at most this many evenly spaced images (0: all).
    :param progress: called with (done, total, label) before each measurement.
    """
    images = np.ascontiguousarray(images, np.uint8)
    if images.ndim != 3 or images.shape[1:] != (28, 28) or len(images) == 0:
        raise BadInput(f"{source}: bench needs 28x28 images, got an array of shape {images.shape}")
    t0 = time.perf_counter()
    jobs, notes = plan(only, pca)
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

    from .inputs import mnist_preprocess

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


# ---------------------------------------------------------------------------
# Reading the rows: where aezip wins and where it loses


def _frontier(rows):
    """The rows not beaten by another (fewer bytes and at least as high PSNR), by size."""
    rows = sorted((r for r in rows if r.psnr is not None), key=lambda r: (r.bytes_per_image, -r.psnr))
    out, best = [], -math.inf
    for r in rows:
        if r.psnr > best:
            out.append(r)
            best = r.psnr
    return out


def _interp_psnr(front, bpi):
    """PSNR of a frontier at *bpi* bytes/image (linear in log bytes), or None outside its range."""
    pts = [(math.log(r.bytes_per_image), r.psnr) for r in front]
    x = math.log(bpi)
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if x0 <= x <= x1:
            return y0 + (y1 - y0) * (x - x0) / (x1 - x0) if x1 > x0 else max(y0, y1)
    if pts and abs(x - pts[0][0]) < 1e-12:
        return pts[0][1]
    return None


def _interp_bytes(front, target):
    """Bytes/image a frontier needs to reach *target* dB, or None if it never does / starts above."""
    pts = [(math.log(r.bytes_per_image), r.psnr) for r in front]
    for (x0, y0), (x1, y1) in zip(pts, pts[1:]):
        if y0 <= target <= y1:
            return math.exp(x0 + (x1 - x0) * (target - y0) / (y1 - y0)) if y1 > y0 else math.exp(x0)
    return None


def _name(r):
    """'xz -9e (one stream)', 'JPEG q=5 (grayscale, optimized)': the setting before any parenthesis."""
    head, paren, tail = r.label.partition(" (")
    return f"{head} {r.setting}".strip() + (f" ({tail}" if paren else "")


def _at(r):
    return f"{r.bytes_per_image:,.1f} B/image, {r.psnr:.2f} dB" if r.psnr is not None else \
        f"{r.bytes_per_image:,.1f} B/image, exact"


def summary_lines(report):
    """Plain statements, computed from the rows, of where aezip wins and where it loses."""
    from .zoo import DEFAULT_QUALITY

    az = sorted(report.by_family("aezip"), key=lambda r: r.bytes_per_image)
    if not az:
        return ["aezip was not measured in this run (--only)."]
    lines = []
    lo, hi = az[0], az[-1]
    best = max(az, key=lambda r: r.psnr if r.psnr is not None else math.inf)
    default = next((r for r in az if r.setting == f"q{DEFAULT_QUALITY}"), az[len(az) // 2])
    lines.append(f"aezip spans {lo.bytes_per_image:.2f} to {hi.bytes_per_image:.2f} B/image "
                 f"({lo.ratio_raw:,.0f}x to {hi.ratio_raw:,.0f}x smaller than raw pixels) at "
                 f"{min(r.psnr for r in az if r.psnr is not None):.2f} to {best.psnr:.2f} dB; "
                 f"its PSNR stops rising at {best.psnr:.2f} dB ({best.setting}): no setting does better.")
    lossless = sorted(report.by_family("lossless"), key=lambda r: r.bytes_per_image)
    if lossless:
        s = lossless[0]
        lines.append(f"Wins on size: the default {default.setting} ({default.bytes_per_image:.2f} B/image) is "
                     f"{default.ratio_gzip:.0f}x smaller than gzip -9 of the whole set "
                     f"({report.gzip_bytes_per_image:.1f} B/image) and "
                     f"{s.bytes_per_image / default.bytes_per_image:.0f}x smaller than the best lossless "
                     f"codec here, {_name(s)} ({s.bytes_per_image:.1f} B/image). "
                     f"Loses on fidelity: those are exact, aezip is not.")
    classical = [r for r in report.by_family("lossy") if r.psnr is not None]
    if classical:
        smallest = min(classical, key=lambda r: r.bytes_per_image)
        if smallest.bytes_per_image > hi.bytes_per_image:
            lines.append(f"Wins below {smallest.bytes_per_image:.0f} B/image: no classical lossy file is "
                         f"that small. The smallest is {_name(smallest)} at {_at(smallest)}, "
                         f"{smallest.bytes_per_image / hi.bytes_per_image:.0f}x aezip's largest setting.")
        beats = [r for r in classical if r.psnr > best.psnr]
        if beats:
            over = min(beats, key=lambda r: r.bytes_per_image)
            lines.append(f"Loses above that: the best classical lossy codec overtakes aezip at "
                         f"{over.bytes_per_image:.1f} B/image / {over.psnr:.2f} dB ({_name(over)}), "
                         f"{over.psnr - best.psnr:+.2f} dB over aezip's best "
                         f"({best.setting}, {_at(best)}) for {over.bytes_per_image / best.bytes_per_image:.1f}x "
                         f"the bytes.")
        dominated = [(a, [r for r in classical if r.bytes_per_image <= a.bytes_per_image and r.psnr >= a.psnr])
                     for a in az]
        hit = [(a, min(d, key=lambda r: r.bytes_per_image)) for a, d in dominated if d]
        for a, r in hit:
            lines.append(f"Loses outright: {_name(r)} ({_at(r)}) is no larger and no worse than "
                         f"aezip {a.setting} ({_at(a)}).")
    pca = _frontier(report.by_family("pca"))
    if pca:
        lines.append(f"Against the linear autoencoder (PCA + zstd, fitted on {report.pca_fit}), at equal "
                     "size (PCA interpolated between its settings, linear in log bytes):")
        for a in az:
            p = _interp_psnr(pca, a.bytes_per_image)
            need = _interp_bytes(pca, a.psnr)
            if p is None:
                verdict = f"PCA has no setting this small (its smallest: {_at(pca[0])})"
            else:
                verdict = f"PCA {p:.2f} dB, aezip {'wins' if a.psnr > p else 'loses'} by {abs(a.psnr - p):.2f} dB"
            if need is not None:
                verdict += f"; PCA needs {need:.1f} B/image ({need / a.bytes_per_image:.2f}x) for aezip's PSNR"
            lines.append(f"  - aezip {a.setting} ({_at(a)}): {verdict}.")
        over = [r for r in pca if r.psnr > best.psnr]
        if over:
            r = over[0]
            lines.append(f"PCA overtakes aezip's best PSNR at {r.bytes_per_image:.1f} B/image / {r.psnr:.2f} dB "
                         f"({r.setting}); above that size the linear baseline is the better lossy choice here.")
        else:
            lines.append(f"PCA stays below aezip's best PSNR up to {pca[-1].bytes_per_image:.1f} B/image "
                         f"({pca[-1].setting}, {pca[-1].psnr:.2f} dB).")
    firsts = {}
    for r in report.rows:
        if r.family != "aezip":
            firsts.setdefault(r.codec, r)
    if firsts:
        lines.append(f"Speed (images/s, encode / decode, this machine as loaded during the run): aezip "
                     f"{default.setting} {default.encode_ips:,.0f} / {default.decode_ips:,.0f}; "
                     + "; ".join(f"{_name(r)} {r.encode_ips:,.0f} / {r.decode_ips:,.0f}" for r in firsts.values())
                     + ".")
    return lines


def ood_lines(report, ood):
    """Statements on aezip's quality on non-digit sets {kind: Report}, against the digits."""
    from .zoo import DEFAULT_QUALITY

    digits = {r.setting: r for r in report.by_family("aezip")}
    lines = []
    for kind, rep in ood.items():
        az = {r.setting: r for r in rep.by_family("aezip")}
        d = az.get(f"q{DEFAULT_QUALITY}") or next(iter(az.values()), None)
        if d is None:
            continue
        best = max(az.values(), key=lambda r: r.psnr if r.psnr is not None else math.inf)
        ref = digits.get(d.setting)
        text = (f"{kind.capitalize()} ({rep.count} images): aezip {d.setting} gives a poor {d.psnr:.2f} dB"
                + (f" ({d.psnr - ref.psnr:+.2f} dB against the {ref.psnr:.2f} dB it gives on {report.source})"
                   if ref and ref.psnr is not None else "")
                + f" and at best {best.psnr:.2f} dB ({best.setting}), SSIM {best.ssim:.3f}")
        others = [r for r in rep.rows if r.family in ("lossy", "pca") and r.psnr is not None]
        if others:
            near = min(others, key=lambda r: abs(math.log(r.bytes_per_image / d.bytes_per_image)))
            top = min(rep.rows, key=lambda r: r.bytes_per_image if r.family == "lossless" else math.inf)
            text += (f"; {_name(near)} gives {near.psnr:.2f} dB at {near.bytes_per_image:.1f} B/image"
                     + (f", and {_name(top)} stores them exactly at {top.bytes_per_image:.1f} B/image"
                        if top.family == "lossless" else ""))
        lines.append(text + ".")
    return lines


# ---------------------------------------------------------------------------
# Output


def bullets(lines):
    """Markdown list items; lines that start with '  - ' are already nested items."""
    return [line if line.startswith("  - ") else f"- {line}" for line in lines]


def _row_dict(r):
    d = asdict(r)
    for k, nd in (("bytes_per_image", 4), ("ratio_raw", 3), ("ratio_gzip", 4), ("psnr", 3), ("ssim", 4)):
        if d[k] is not None:
            d[k] = round(d[k], nd)
    d["encode_ips"], d["decode_ips"] = round(d["encode_ips"]), round(d["decode_ips"])
    d["seconds"] = round(d["seconds"], 2)
    return d


def _environment():
    from PIL import features

    from . import __version__
    from .zoo import cards
    return {"aezip": __version__, "python": platform.python_version(), "numpy": np.__version__,
            "pillow": features.version("pil"), "machine": platform.machine(), "system": platform.system(),
            "models": {n: f"{n}@{c['sha256'][:16]}" for n, c in cards().items()}}


def to_json(report, ood=None, command="", seconds=None):
    """The report as a JSON-ready dict."""
    def one(rep):
        return {"source": rep.source, "images": rep.count, "subset": rep.subset,
                "gzip_bytes_per_image": round(rep.gzip_bytes_per_image, 4), "pca_fit": rep.pca_fit,
                "pca_fit_seconds": round(rep.pca_fit_seconds, 1),
                "notes": rep.notes, "seconds": round(rep.seconds, 1),
                "rows": [_row_dict(r) for r in rep.rows]}
    out = {"command": command, "raw_bytes_per_image": RAW_BYTES, "environment": _environment()}
    out.update(one(report))
    if seconds is not None:
        out["total_seconds"] = round(seconds, 1)
    out["summary"] = summary_lines(report)
    if ood:
        out["nondigit"] = {k: one(v) for k, v in ood.items()}
        out["nondigit_summary"] = ood_lines(report, ood)
    return out


def _fmt(v, spec, none="-"):
    return none if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def table(report):
    """The rows as a markdown table."""
    head = ("| codec | setting | unit | images | B/image | x raw | x gzip-9 | PSNR dB | SSIM "
            "| encode img/s | decode img/s | note |")
    lines = [head, "|" + "---|" * 12]
    for r in report.rows:
        lines.append(f"| {r.label} | {r.setting} | {r.unit} | {r.images:,} | {r.bytes_per_image:,.2f} "
                     f"| {r.ratio_raw:,.1f} | {r.ratio_gzip:,.2f} | "
                     f"{'exact' if r.psnr is None else format(r.psnr, '.2f')} | {r.ssim:.3f} "
                     f"| {r.encode_ips:,.0f} | {r.decode_ips:,.0f} | {r.note} |")
    return "\n".join(lines)


def _short_table(rep):
    """aezip, PCA, the lossless codecs, and each classical lossy codec's smallest setting."""
    lines = ["| codec | setting | B/image | PSNR dB | SSIM |", "|---|---|---|---|---|"]
    smallest = {}
    for r in rep.by_family("lossy"):
        if r.codec not in smallest or r.bytes_per_image < smallest[r.codec].bytes_per_image:
            smallest[r.codec] = r
    for r in rep.rows:
        if r.family == "lossy" and smallest[r.codec] is not r:
            continue
        lines.append(f"| {r.label} | {r.setting} | {r.bytes_per_image:,.2f} | "
                     f"{'exact' if r.psnr is None else format(r.psnr, '.2f')} | {r.ssim:.3f} |")
    return "\n".join(lines)


def to_markdown(report, ood=None, command="", seconds=None):
    """The report as a markdown page: table, command, wins and losses, non-digit images."""
    env = _environment()
    out = [f"# aezip bench: {report.source}", ""]
    out.append(f"{report.count:,} images of 28x28 8-bit pixels (raw: {RAW_BYTES} B/image). "
               f"aezip {env['aezip']}, models {', '.join(env['models'].values())}; Python {env['python']}, "
               f"numpy {env['numpy']}, Pillow {env['pillow']}, {env['system']} {env['machine']}."
               + (f" The whole run took {seconds:.0f} s." if seconds is not None else ""))
    out += ["", "## Results", "", table(report), ""]
    out.append(f"Made by: `{command}`" if command else "")
    out.append("")
    if report.notes:
        out += ["Skipped:", ""] + [f"- {n}" for n in report.notes] + [""]
    out += ["## Where aezip wins and where it loses", ""]
    out += bullets(summary_lines(report)) + [""]
    if ood:
        out += ["## Images unlike digits", ""]
        out.append("aezip's models only know digits. The same benchmark on images that are not digits "
                   "(generated by `aezip.bench.nondigit_images`, seed 0: Latin letters and symbols "
                   "rendered with Pillow and given MNIST preprocessing, and uniform random noise):")
        out.append("")
        out += bullets(ood_lines(report, ood)) + [""]
        for kind, rep in ood.items():
            out += [f"### {kind.capitalize()} ({rep.count} images)", "", _short_table(rep), ""]
        out += ["`aezip compress` warns (exit 2) about images that reconstruct poorly (`--warn-psnr`), "
                "and `--min-psnr DB` stores such images losslessly.", ""]
    out += ["## How it is measured", ""]
    out += [
        "- **B/image**: everything a decoder needs except the model, divided by the images measured: the "
        "whole `.aez` file for aezip (as `aezip compress` writes it for an IDX or .npy input: header, "
        "codes, per-image PSNR bytes, no names); the whole stream for the stream codecs, which compress "
        "the raw pixels (784 B/image, no IDX header) as one stream (gzip and zstd frames as the command-"
        "line tools write them, no file name); the sum of the real file sizes, headers included, for the "
        "one-file-per-image codecs; for PCA a header (count, k, step, offsets) plus the dimension-major "
        "quantized coefficients in one zstd frame made as aezip makes its Codes section.",
        f"- **x gzip-9**: gzip -9 of the whole set as one stream ({report.gzip_bytes_per_image:.1f} B/image "
        "here) divided by the row's B/image.",
        "- **PSNR**: 10 log10(1/MSE), pixels in [0, 1], MSE over all pixels of all images; "
        "**SSIM**: mean over images, 7x7 uniform window, K1 = 0.01, K2 = 0.03. Lossless rows are decoded "
        "and compared bit for bit (a mismatch stops the run with an error).",
        f"- **PCA** (the linear autoencoder): fitted on {report.pca_fit or 'nothing (skipped)'}; k "
        "components, each coefficient quantized with one step, the standard deviation of the k-th "
        "component.",
        "- **Speed**: images per second of encoding and of decoding, one process, wall clock, on this "
        "machine and its load at the time; the slow codecs see an evenly spaced subset (see *images* and "
        "*note*).",
    ]
    return "\n".join(out).rstrip() + "\n"


def check_plot_support():
    """Raise AezError (one line) when matplotlib is missing."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise AezError("--plot needs matplotlib: pip install 'aezip[plot]'") from None


def plot(report, path_or_file, ood=None, title=None):
    """Rate-distortion plot: bytes/image (log) against PSNR; lossless codecs on a band at the top."""
    check_plot_support()
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.2), dpi=120)
    lossy = [r for r in report.rows if r.psnr is not None]
    top = max([r.psnr for r in lossy] + [20.0]) + 4
    styles = {"aezip": ("o-", "C3"), "pca": ("s--", "C0"), "jpeg": ("^-", "C2"), "webp": ("v-", "C1"),
              "avif": ("D-", "C4")}
    for codec in dict.fromkeys(r.codec for r in lossy):
        pts = sorted((r for r in lossy if r.codec == codec), key=lambda r: r.bytes_per_image)
        style, color = styles.get(codec, (".-", None))
        ax.plot([r.bytes_per_image for r in pts], [r.psnr for r in pts], style, color=color, ms=4,
                lw=2.2 if codec == "aezip" else 1.2, label=f"{pts[0].label}")
    if ood:
        for i, (kind, rep) in enumerate(ood.items()):
            pts = sorted((r for r in rep.rows if r.family == "aezip" and r.psnr is not None),
                         key=lambda r: r.bytes_per_image)
            if pts:
                ax.plot([r.bytes_per_image for r in pts], [r.psnr for r in pts], "o:", color="C3",
                        alpha=0.45, ms=3, mfc="none" if i else "C3", label=f"aezip on {kind} (not digits)")
    exact = sorted((r for r in report.rows if r.psnr is None), key=lambda r: r.bytes_per_image)
    if exact:
        ax.axhline(top - 1.5, color="0.7", lw=0.8)
        ax.scatter([r.bytes_per_image for r in exact], [top] * len(exact), marker="|", s=200, color="k")
        ax.text(0.01, top - 3, "lossless (exact; top band), B/image: " + ", ".join(f"{r.codec} {r.bytes_per_image:.0f}"
                                                                     for r in exact),
                transform=ax.get_yaxis_transform(), va="center", fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("bytes per image (log scale; whole file or stream, headers included)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_ylim(top=top + 3)
    ax.set_title(title or f"Rate-distortion on {report.source} ({report.count:,} images)", fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(0, 0.87))
    fig.tight_layout()
    fig.savefig(path_or_file, format="png", metadata={"Software": None})
    plt.close(fig)
