"""The codecs the benchmark compares: adapters with one interface over aezip, the stream
compressors (gzip, bzip2, xz, zstd, brotli), Pillow's image formats and PCA.

Each has: name, family, label, unit, slow, settings() -> [(setting, params)],
missing() -> None or why it cannot run, encode(images, params) -> bytes or a list of
bytes (one per image), decode(encoded, params, count) -> uint8 (count, 28, 28).
"""

import bz2
import gzip
import io
import lzma
import struct
import time
from dataclasses import dataclass

import numpy as np

from .. import container
from ..codec import AezCompressor, AezDecompressor
from ..zoo import LADDER, cards, get_model, ladder_row

PCA_COMPONENTS = (6, 8, 12, 16, 24, 32, 48, 64, 96, 128)
JPEG_QUALITIES = (1, 5, 10, 25, 50, 75, 95)
WEBP_QUALITIES = (0, 5, 10, 25, 50, 75, 95)
AVIF_QUALITIES = (0, 25, 50, 75)


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


class _JpegXL(_Codec):
    """JPEG XL lossless, one file per image, through imagecodecs (its bundled libjxl):
    `pip install '.[bench]'`."""
    name, family, label, unit, lossless, slow = "jpegxl", "lossless", "JPEG XL lossless", "file per image", True, True

    def settings(self):
        return [("effort 9", {"effort": 9})]

    def missing(self):
        try:
            import imagecodecs
        except ImportError:
            return "not installed (pip install imagecodecs, or aezip[bench])"
        if not imagecodecs.JPEGXL.available:
            return f"this imagecodecs ({imagecodecs.__version__}) has no JPEG XL"
        return None

    def encode(self, images, params):
        import imagecodecs
        return [bytes(imagecodecs.jpegxl_encode(im, lossless=True, effort=params["effort"])) for im in images]

    def decode(self, files, params, count):
        import imagecodecs
        return np.stack([np.asarray(imagecodecs.jpegxl_decode(f), np.uint8).reshape(28, 28) for f in files]) \
            if files else np.zeros((0, 28, 28), np.uint8)


class _Aezip(_Codec):
    """Every quality level of zoo.LADDER, through AezCompressor / AezDecompressor: the
    archive `aezip compress` writes, stored names and source form included."""
    name, family, label, unit = "aezip", "aezip", "aezip", "archive"
    names = None                          # the names compress would store, or None
    source_form = container.SOURCE_IMAGES

    def settings(self):
        out = []
        for q, (model, frac) in sorted(LADDER.items()):
            step = f"1/{round(1 / frac)}" if frac < 1 and abs(1 / frac - round(1 / frac)) < 1e-6 else f"{frac:g}"
            unit = "trained step" if cards().get(model, {}).get("config", {}).get("quant_noise") else "std"
            out.append((f"q{q}", {"quality": q, "_note": f"{model}, step {step} x {unit}"}))
        return out

    def prepare(self, params):
        self._compressor = AezCompressor(params["quality"])
        get_model(ladder_row(params["quality"])[0])  # the decoder finds it loaded

    def encode(self, images, params):
        names = self.names if self.names is not None and len(self.names) == len(images) else None
        return self._compressor.compress(images, names=names, source_form=self.source_form)

    def decode(self, blob, params, count):
        return AezDecompressor().decompress(blob)


class _AezipPixels(_Codec):
    """aezip's pixel mode (aezip.lossless): lossless, or near-lossless at each max error."""
    unit = "archive"

    def __init__(self, name, family, label, errors):
        self.name, self.family, self.label, self._errors = name, family, label, errors
        self.lossless = errors == (0,)

    def settings(self):
        return [("lossless" if k == 0 else f"K={k}", {"max_error": k,
                 "_note": "learned pixel model + rANS" if k == 0 else f"every pixel within ±{k}"})
                for k in self._errors]

    def prepare(self, params):
        k = params["max_error"]
        self._compressor = AezCompressor(lossless=k == 0, max_error=k or None)
        self._compressor.compress(np.zeros((1, 28, 28), np.uint8))   # loads the pixel model

    def encode(self, images, params):
        return self._compressor.compress(images)

    def decode(self, blob, params, count):
        return AezDecompressor().decompress(blob)


NEAR_LOSSLESS_ERRORS = (1, 2, 4, 8, 16)


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
        _AezipPixels("aezip-lossless", "lossless", "aezip lossless", (0,)),
        _AezipPixels("aezip-near", "near", "aezip near-lossless", NEAR_LOSSLESS_ERRORS),
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
        _JpegXL(),
        _Pillow("jpeg", "lossy", "JPEG (grayscale, optimized)", "JPEG", "jpg", JPEG_QUALITIES, {"optimize": True}),
        _Pillow("webp", "lossy", "WebP lossy", "WEBP", "webp", WEBP_QUALITIES, {"method": 6}, slow=True),
        _Pillow("avif", "lossy", "AVIF", "AVIF", "avif", AVIF_QUALITIES, {}, slow=True),
        _Pca(),
    ]


CODECS = [c.name for c in _codecs()]
SLOW_CODECS = [c.name for c in _codecs() if c.slow]   # measured on --subset images
