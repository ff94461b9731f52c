"""Images <-> .aez bytes through a loaded model: quantization and the API classes.

``AezCompressor(quality=5).compress(images)`` is what :func:`aezip.compress`
does once; in a loop, build one compressor and reuse it (loading the model is
the expensive part).  The same holds for :class:`AezDecompressor`, which keeps
every model it has loaded.  The two mirror each other, as python-zstandard's do:
compress/decompress (images <-> bytes), compress_archive/decompress_archive (with the
per-image PSNR or the parsed archive) and encode/decode (images <-> quantized codes).
"""

import math

import numpy as np

from . import container, zoo
from .container import PSNR_EXACT, PSNR_UNIT, Header
from .errors import BadAezFile, BadInput
from .metrics import psnr_per_image
from .parallel import map_chunks

__all__ = ["AezCompressor", "AezDecompressor", "Quantizer"]


class Quantizer:
    """Uniform scalar quantizer per code dimension: q = round((z - offset) / step)."""

    def __init__(self, offsets, steps, sample_size):
        self.offsets = np.asarray(offsets, np.float32)
        self.steps = np.asarray(steps, np.float32)
        self.sample_size = sample_size
        self.top = (1 << (8 * sample_size)) - 1

    @classmethod
    def for_model(cls, model, step_fraction):
        """The quantizer for *model* at a step of *step_fraction* times its unit.

        The unit is the step a rate-aware model was trained for (its calibration's
        ``quant_step``: see :meth:`_trained_grid`), else each code dimension's standard
        deviation on the training set (:meth:`_std_grid`).
        """
        if model.meta["calibration"].get("quant_step") is not None:
            lo, steps = cls._trained_grid(model, step_fraction)
        else:
            lo, steps = cls._std_grid(model, step_fraction)
        hi = model.code_max + 0.25 * (model.code_max - model.code_min)
        levels = np.ceil((hi - lo) / steps).max() + 1
        return cls(lo, steps, 1 if levels <= 256 else 2)

    @staticmethod
    def _trained_grid(model, step_fraction):
        """(offsets, steps) on the grid k * step of the step the model was trained for.

        A step fraction of 1 rounds as in training.  The offsets are placed so that every
        dimension's mean code lands on the same byte value: zstd codes all dimensions with
        one Huffman table per block, which fits better when the dimensions' histograms share
        their centre (~5% smaller).
        """
        cal = model.meta["calibration"]
        span = model.code_max - model.code_min
        steps = np.asarray(cal["quant_step"], np.float64) * step_fraction
        center = np.round(np.asarray(cal["mean"], np.float64) / steps)
        below = int(np.max(center - np.floor((model.code_min - 0.25 * span) / steps)))
        return ((center - below) * steps).astype(np.float32), steps.astype(np.float32)

    @staticmethod
    def _std_grid(model, step_fraction):
        """(offsets, steps): a step of *step_fraction* code standard deviations, from just
        below the smallest code seen in training."""
        span = model.code_max - model.code_min
        # a dead code dimension (std 0, as in a collapsed network) still gets a valid step
        steps = (np.maximum(model.code_std, 1e-6) * step_fraction).astype(np.float32)
        return (model.code_min - 0.25 * span).astype(np.float32), steps

    def quantize(self, z):
        q = np.rint((z - self.offsets) / self.steps)
        np.clip(q, 0, self.top, out=q)
        return q.astype(np.uint8 if self.sample_size == 1 else np.uint16)

    def dequantize(self, q):
        return self.offsets + q.astype(np.float32) * self.steps


def decode_codes(model, quantizer, codes, progress=None):
    """uint8 images (N, H, W) that *model* decodes from quantized *codes* (N, latent_dim), on all cores."""
    out = np.empty((len(codes),) + model.output_shape, np.uint8)

    def work(lo, hi):
        out[lo:hi] = model.decode(quantizer.dequantize(codes[lo:hi]))

    map_chunks(work, len(codes), progress)
    return out


def _check_images(images, shape):
    a = np.asarray(images)
    if a.dtype != np.uint8:
        raise BadInput(f"images must be uint8, got {a.dtype}")
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[1:] != shape:
        raise BadInput(f"images must have shape (N, {shape[0]}, {shape[1]}), got {a.shape}")
    if len(a) == 0:
        raise BadInput("no images to compress")
    if len(a) > container.MAX_IMAGES:
        raise BadInput(f"{len(a)} images exceed the per-archive limit of {container.MAX_IMAGES}")
    return a


class AezCompressor:
    """Compresses uint8 (N, 28, 28) image stacks into .aez bytes.

    :param quality: 1 (smallest) .. 9 (best); default :data:`aezip.zoo.DEFAULT_QUALITY`.
    :param model: model name, overriding the ladder's choice (then *step* applies).
    :param step: quantization step as a fraction of each code dimension's std.
    :param min_psnr: images that would reconstruct below this PSNR (dB) are stored
        losslessly instead (zstd of their pixels), so nothing is lost.
    :param store_psnr: store each image's PSNR in the archive (the quality contract).
    """

    def __init__(self, quality=None, *, model=None, step=None, min_psnr=None, store_psnr=True):
        if quality is None and model is None:
            quality = zoo.DEFAULT_QUALITY
        if quality is not None:
            if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 9:
                raise BadInput(f"quality {quality!r} must be an integer from 1 to 9")
            name, fraction = zoo.ladder_row(int(quality))
        else:
            name, fraction = model, None
        if model is not None:
            name = model
        if step is not None:
            fraction = step
        if fraction is None or not fraction > 0:
            raise BadInput(f"quantization step {fraction!r} must be a positive fraction of the code std")
        self.quality = int(quality) if quality is not None and model is None and step is None else 0
        self.model = zoo.get_codec_model(name)
        self.quantizer = Quantizer.for_model(self.model, fraction)
        self.min_psnr = min_psnr
        self.store_psnr = store_psnr

    def encode(self, images, progress=None):
        """Return (quantized codes, per-image PSNR in dB of their reconstructions) of checked images.

        *progress*, if given, is called with the number of images done after each chunk.
        """
        m, qz = self.model, self.quantizer
        codes = np.empty((len(images), m.latent_dim), np.uint8 if qz.sample_size == 1 else np.uint16)
        scores = np.empty(len(images))

        def work(lo, hi):
            q = qz.quantize(m.encode(images[lo:hi]))
            codes[lo:hi] = q
            scores[lo:hi] = psnr_per_image(images[lo:hi], m.decode(qz.dequantize(q)))

        map_chunks(work, len(images), progress)
        return codes, scores

    def decode(self, codes, progress=None):
        """The images a decoder makes of quantized *codes* (what :meth:`encode` returned)."""
        return decode_codes(self.model, self.quantizer, codes, progress)

    def compress(self, images, names=None, source_form=container.SOURCE_IMAGES):
        """Return the bytes of an .aez file holding *images* (uint8 (N, H, W))."""
        return self.compress_archive(images, names, source_form)[0]

    def compress_archive(self, images, names=None, source_form=container.SOURCE_IMAGES, progress=None):
        """Return (.aez bytes, per-image PSNR in dB of what a decoder will output; inf = exact)."""
        images = _check_images(images, self.model.output_shape)
        if names is not None:
            names = [str(n) for n in names]
            if len(names) != len(images):
                raise BadInput(f"{len(names)} names for {len(images)} images")
        codes, scores = self.encode(images, progress)
        raw_index = raw_pixels = None
        if self.min_psnr is not None:
            raw_index = np.flatnonzero(scores < self.min_psnr).astype(np.uint32)
            raw_pixels = images[raw_index]
            scores[raw_index] = math.inf
        stored = None
        if self.store_psnr:
            stored = np.where(np.isinf(scores), PSNR_EXACT,
                              np.clip(np.floor(scores / PSNR_UNIT), 0, PSNR_EXACT - 1)).astype(np.uint8)
        m, qz = self.model, self.quantizer
        header = Header(container.FORMAT_VERSION, 0, self.quality, qz.sample_size, m.digest, m.name,
                        len(images), images.shape[1], images.shape[2], m.latent_dim,
                        tuple(qz.offsets.tolist()), tuple(qz.steps.tolist()), source_form)
        data = container.pack(header, codes, names=names, psnr=stored,
                              raw_index=raw_index, raw_pixels=raw_pixels)
        return data, scores


class AezDecompressor:
    """Decodes .aez bytes into uint8 (N, H, W) images; the mirror of :class:`AezCompressor`.

    ``decompress`` mirrors ``compress``, ``decompress_archive`` mirrors ``compress_archive``
    and ``decode`` (a parsed archive's codes -> images) mirrors ``encode``.  The models it
    loads are kept, by digest, so one decompressor reused over many archives loads each once.
    """

    def __init__(self):
        self._models = {}

    def model_for(self, header):
        """The installed model that wrote the archive with *header*, checked against its shape."""
        model = self._models.get(header.model_digest)
        if model is None:
            model = zoo.model_for_digest(header.model_digest, header.model_name)
            self._models[header.model_digest] = model
        if model.latent_dim != header.latent_dim or model.output_shape != (header.height, header.width):
            raise BadAezFile(f"archive shape ({header.latent_dim} codes, {header.width}x{header.height}) does "
                             f"not match model {model.model_id} ({model.latent_dim} codes, {model.output_shape})")
        return model

    def decompress(self, data):
        """The images of the .aez bytes *data*."""
        return self.decompress_archive(data)[1]

    def decompress_archive(self, data, progress=None):
        """Return (parsed archive, images); *progress* as for :meth:`AezCompressor.encode`."""
        archive = container.unpack(data)
        return archive, self.decode(archive, progress)

    def decode(self, archive, progress=None):
        """The images of a parsed :class:`~aezip.container.Archive`: its codes decoded, and
        the images it stores losslessly put in their places."""
        h = archive.header
        images = decode_codes(self.model_for(h), Quantizer(h.offsets, h.steps, h.sample_size), archive.codes,
                              progress)
        if len(archive.raw_index):
            images[archive.raw_index] = archive.raw_pixels
        return images
