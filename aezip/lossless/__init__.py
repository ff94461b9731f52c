"""Lossless and near-lossless pixel coding with a learned causal integer pixel model (numpy only).

Public interface (formats/aez.md §5.7 is the byte-level spec)::

    encode_pixels(images, max_error=0, threads=None) -> bytes
    decode_pixels(payload, count, height, width, max_error=0, threads=None) -> uint8 (N, H, W)
    iter_decode_pixels(...) -> (start, stop, images) a few chunks at a time (bounded memory)
    model_digest() -> 8 bytes;  model_name() -> str  (the encoder's model)
    model_for_digest(digest) -> the installed PixelModel with that digest, or None
"""

from .decode import decode_pixels, iter_decode_pixels
from .encode import encode_pixels
from .layout import BadLosslessPayload
from .model import model_for_digest
from .tables import model_digest, model_name

__all__ = ["encode_pixels", "decode_pixels", "iter_decode_pixels", "model_digest", "model_name", "model_for_digest",
           "BadLosslessPayload"]
