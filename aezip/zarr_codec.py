"""A Zarr v3 array-to-bytes codec (name ``aezip``): each chunk of uint8 (n, 28, 28) is an .aez file.

::

    import zarr
    from aezip.zarr_codec import AezipZarrCodec

    z = zarr.create_array("digits.zarr", shape=(70000, 28, 28), chunks=(7000, 28, 28),
                          dtype="uint8", serializer=AezipZarrCodec(quality=5), compressors=None)
    z[:] = images                 # every chunk is encoded by aezip.compress
    back = z[:]                   # and decoded by aezip.decompress (lossy)

Zarr v3 refuses plain numcodecs codecs as serializers ("Expected an ArrayBytesCodec"),
hence this class; :class:`aezip.numcodecs.AezipCodec` is the numcodecs twin (same
bytes, for Zarr v2 and other numcodecs users).  Registered with the entry-point group
``zarr.codecs`` (and on import).  Needs the ``[dask]`` extra (zarr).

Lossy chunks: writing part of a chunk makes Zarr read (decode) the chunk, merge the
new values and encode it again, so the untouched images in it lose a little more each
time.  Write whole chunks (chunk boundaries that match how the data arrives, e.g.
``dask.array`` chunks equal to the Zarr chunks) and every image is encoded once.
"""

import asyncio
from dataclasses import dataclass

import numpy as np
import zarr.registry
from zarr.abc.codec import ArrayBytesCodec
from zarr.core.common import parse_named_configuration

import aezip
from aezip.errors import BadAezFile, BadInput
from aezip.numcodecs import DEFAULT_QUALITY, SIDE, check_quality

__all__ = ["AezipZarrCodec"]

NAME = "aezip"


@dataclass(frozen=True)
class AezipZarrCodec(ArrayBytesCodec):
    """Zarr v3 serializer: uint8 chunks (n, 28, 28) <-> .aez bytes at a quality level 1..9."""

    is_fixed_size = False

    quality: int = DEFAULT_QUALITY
    min_psnr: float | None = None

    def __init__(self, *, quality=DEFAULT_QUALITY, min_psnr=None):
        object.__setattr__(self, "quality", check_quality(quality))
        object.__setattr__(self, "min_psnr", None if min_psnr is None else float(min_psnr))

    @classmethod
    def from_dict(cls, data):
        _, configuration = parse_named_configuration(data, NAME, require_configuration=False)
        return cls(**(configuration or {}))

    def to_dict(self):
        configuration = {"quality": self.quality}
        if self.min_psnr is not None:
            configuration["min_psnr"] = self.min_psnr
        return {"name": NAME, "configuration": configuration}

    def validate(self, *, shape, dtype, chunk_grid):
        if np.dtype(dtype.to_native_dtype()) != np.uint8:
            raise BadInput(f"aezip codec: data type {dtype} is not supported; store uint8 digits")
        chunks = getattr(chunk_grid, "chunk_shape", None)
        if len(shape) != 3 or tuple(shape[1:]) != (SIDE, SIDE):
            raise BadInput(f"aezip codec: array shape {tuple(shape)}; expected (N, {SIDE}, {SIDE})")
        if chunks is not None and tuple(chunks[1:]) != (SIDE, SIDE):
            raise BadInput(f"aezip codec: chunk shape {tuple(chunks)}; chunk along the first axis only, "
                           f"(n, {SIDE}, {SIDE})")

    def compute_encoded_size(self, input_byte_length, chunk_spec):
        raise NotImplementedError("aezip chunks have a data-dependent size")

    def _encode_sync(self, chunk_array, chunk_spec):
        images = chunk_array.as_numpy_array()
        data = aezip.compress(images, quality=self.quality, min_psnr=self.min_psnr)
        return chunk_spec.prototype.buffer.from_bytes(data)

    def _decode_sync(self, chunk_bytes, chunk_spec):
        images = aezip.decompress(chunk_bytes.to_bytes())
        if images.shape != tuple(chunk_spec.shape):
            raise BadAezFile(f"aezip chunk holds images of shape {images.shape}, "
                             f"the array's chunks are {tuple(chunk_spec.shape)}")
        return chunk_spec.prototype.nd_buffer.from_numpy_array(images)

    # Zarr runs codecs in its event loop; the work goes to a thread, as zarr's own
    # compressors do, so chunks decode side by side and the loop stays responsive.
    async def _encode_single(self, chunk_array, chunk_spec):
        return await asyncio.to_thread(self._encode_sync, chunk_array, chunk_spec)

    async def _decode_single(self, chunk_bytes, chunk_spec):
        return await asyncio.to_thread(self._decode_sync, chunk_bytes, chunk_spec)


# The entry point makes zarr find the codec by name when it opens an array; registering
# here as well keeps that working from a source checkout that was never pip-installed.
zarr.registry.register_codec(NAME, AezipZarrCodec)
