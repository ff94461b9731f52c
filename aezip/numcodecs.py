"""A numcodecs codec (id ``aezip``): a chunk of uint8 (N, 28, 28) digits <-> the bytes of an .aez file.

::

    from aezip.numcodecs import AezipCodec
    codec = AezipCodec(quality=5)
    data = codec.encode(images)          # bytes of an .aez file
    images2 = codec.decode(data)         # uint8 (N, 28, 28), lossy

Discovered by numcodecs through the entry-point group ``numcodecs.codecs`` (and
registered on import), so ``numcodecs.get_codec({"id": "aezip", "quality": 5})``
works.  Zarr v2 arrays can use it as a compressor; Zarr v3 needs an array-to-bytes
codec instead, :class:`aezip.zarr_codec.AezipZarrCodec`.  Needs the ``[dask]``
extra (numcodecs).

The codec is lossy: decode(encode(x)) is close to x, not equal (see PSNR in the
README).  Every chunk is a complete .aez file, readable with ``aezip extract``.
"""

import numcodecs
import numpy as np
from numcodecs.abc import Codec
from numcodecs.compat import ensure_bytes, ensure_ndarray, ndarray_copy

import aezip
from aezip.errors import BadInput

__all__ = ["AezipCodec", "DEFAULT_QUALITY", "check_quality", "as_digit_stack"]

DEFAULT_QUALITY = 5   # aezip's default quality level (aezip compress -Q)
SIDE = 28


def check_quality(quality):
    """Return *quality* as an int 1..9, or raise BadInput naming the bad value."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 9:
        raise BadInput(f"aezip codec: quality {quality!r} must be an integer from 1 to 9")
    return int(quality)


def as_digit_stack(array):
    """View a uint8 array (N, 28, 28), or a flat buffer of N*784 bytes, as (N, 28, 28)."""
    a = np.asarray(array)
    if a.dtype != np.uint8:
        raise BadInput(f"aezip codec: dtype {a.dtype} is not supported; store uint8 digits")
    if a.ndim == 3 and a.shape[1:] == (SIDE, SIDE):
        return a
    if a.ndim == 1 and a.size and a.size % (SIDE * SIDE) == 0:
        return a.reshape(-1, SIDE, SIDE)
    raise BadInput(f"aezip codec: chunk of shape {a.shape}; expected (N, {SIDE}, {SIDE}) uint8")


class AezipCodec(Codec):
    """numcodecs codec: uint8 (N, 28, 28) <-> .aez bytes at a quality level 1..9.

    :param quality: aezip's quality level (1 smallest .. 9 best), default 5.
    :param min_psnr: images that would decode below this PSNR (dB) are stored exactly.
    """

    codec_id = "aezip"

    def __init__(self, quality=DEFAULT_QUALITY, min_psnr=None):
        self.quality = check_quality(quality)
        self.min_psnr = None if min_psnr is None else float(min_psnr)

    def encode(self, buf):
        return aezip.compress(as_digit_stack(ensure_ndarray(buf)), quality=self.quality,
                              min_psnr=self.min_psnr)

    def decode(self, buf, out=None):
        images = aezip.decompress(ensure_bytes(buf))
        if out is not None:
            return ndarray_copy(images, out)
        return images

    def get_config(self):
        config = {"id": self.codec_id, "quality": self.quality}
        if self.min_psnr is not None:
            config["min_psnr"] = self.min_psnr
        return config

    @classmethod
    def from_config(cls, config):
        """Build a codec from :meth:`get_config`'s dict (with or without its ``id``)."""
        config = dict(config)
        codec_id = config.pop("id", cls.codec_id)
        if codec_id != cls.codec_id:
            raise BadInput(f"aezip codec: config for codec id {codec_id!r}, expected {cls.codec_id!r}")
        return cls(**config)

    def __repr__(self):
        extra = "" if self.min_psnr is None else f", min_psnr={self.min_psnr}"
        return f"AezipCodec(quality={self.quality}{extra})"


# The entry point makes numcodecs find the codec without this import; registering here
# as well keeps it working from a source checkout that was never pip-installed.
numcodecs.register_codec(AezipCodec)
