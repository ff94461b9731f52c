"""aezip: a learned codec for 28x28 handwritten-digit images, lossy or exact.

One-shot helpers::

    data = aezip.compress(images)          # uint8 (N, 28, 28) -> .aez bytes
    images = aezip.decompress(data)        # .aez bytes -> uint8 (N, 28, 28)

``compress(images, quality=q)`` is the same as ``AezCompressor(q).compress(images)``
and ``decompress(data)`` as ``AezDecompressor().decompress(data)``; in a loop,
build the object once and reuse it (loading the model is the expensive part).
Nothing here imports torch; training (``aezip.training.train``) needs the ``[train]`` extra.
"""

__version__ = "0.1.0"

from .errors import (  # noqa: E402
    AezError, BadAezFile, BadData, BadInput, BadModelCard, BadWeights, UnknownModel, UnsupportedVersion,
)

__all__ = [
    "AezError", "BadAezFile", "UnsupportedVersion", "UnknownModel", "BadInput", "BadData", "BadWeights",
    "BadModelCard",
    "AezCompressor", "AezDecompressor", "compress", "decompress", "read_header", "is_aez",
    "Header", "denoise", "upscale", "__version__",
]


def __getattr__(name):
    # Lazy, so `aezip --version` does not pay for zstandard and the model code.
    if name in ("AezCompressor", "AezDecompressor"):
        from . import codec
        return getattr(codec, name)
    if name == "Header":   # what read_header returns: the parsed archive of either version
        from .archive import Contents
        return Contents
    raise AttributeError(f"module 'aezip' has no attribute {name!r}")


def compress(images, *, quality=None, model=None, names=None, min_psnr=None, lossless=False, max_error=None):
    """Compress uint8 images (N, 28, 28) and return the bytes of an .aez file.

    Lossy (the default): *quality* 1..9 (default 5) picks the rate; *model* names an
    installed codec model to use instead of the quality ladder's; *min_psnr* stores images
    that would reconstruct below it exactly.  Exact: *lossless* stores the pixels
    themselves, coded by the learned pixel model; *max_error* K (1..32) keeps every pixel
    within ±K for fewer bytes."""
    from .codec import AezCompressor
    if lossless or max_error is not None:
        return AezCompressor(lossless=lossless, max_error=max_error).compress(images, names=names)
    return AezCompressor(quality, model=model, min_psnr=min_psnr).compress(images, names=names)


def decompress(data):
    """Decode the bytes of any .aez file into uint8 images (N, H, W)."""
    from .codec import AezDecompressor
    return AezDecompressor().decompress(data)


def read_header(data_or_file):
    """Return what an .aez file says (bytes, a path or a binary file object): count, quality,
    model_id, names, psnr, ... (:class:`aezip.archive.Contents`); the whole file is checked."""
    from .archive import read_header as _read
    if isinstance(data_or_file, (bytes, bytearray, memoryview)):
        return _read(data_or_file)
    if hasattr(data_or_file, "read"):
        return _read(data_or_file.read())
    with open(data_or_file, "rb") as f:
        return _read(f.read())


def is_aez(path_or_data):
    """True when the argument (a path or bytes) starts with the .aez magic; never raises."""
    from .container import MAGIC
    try:
        if isinstance(path_or_data, (bytes, bytearray, memoryview)):
            return bytes(path_or_data[:4]) == MAGIC
        with open(path_or_data, "rb") as f:
            return f.read(4) == MAGIC
    except Exception:
        return False


def denoise(images):
    """Remove noise from uint8 digit images (N, 28, 28) with the bundled denoising model."""
    from .apps import denoise as _denoise
    return _denoise(images)


def upscale(images):
    """Up-sample uint8 14x14 digit images (N, 14, 14) to 28x28 with the bundled model."""
    from .apps import upscale as _upscale
    return _upscale(images)
