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

from . import archive, container, container_v2, zoo
from .archive import PSNR_EXACT, PSNR_UNIT
from . import lossless
from .errors import BadAezFile, BadInput, UnknownModel, UnsafeName
from .grid import STEP_FRACTION, Grid, grid_for
from .names import check_names
from .metrics import psnr_per_image
from .parallel import map_chunks
from .verdict import judge

__all__ = ["AezCompressor", "AezDecompressor"]


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
    """Compresses uint8 (N, 28, 28) image stacks into .aez bytes (format version 2).

    :param quality: 1 (smallest) .. 9 (best); default :data:`aezip.zoo.DEFAULT_QUALITY`.
        The level fixes the quantization grid (formats/aez.md §4.3) of whichever model codes.
    :param model: model name (or loaded model) instead of the ladder's choice for *quality*.
    :param step: a custom quantization step, as a fraction of the model's step unit; the
        grid is then stored in the archive (level 0).
    :param min_psnr: images that would reconstruct below this PSNR (dB) are stored
        exactly instead (the Raw section), so nothing is lost.
    :param store_psnr: store each image's PSNR in the archive (the quality contract).
    :param judge: run the digit check (:mod:`aezip.verdict`) on every image and store its
        verdicts (formats/aez.md §5.4); about halves the encoding speed.
    :param lossless: code the pixels themselves, exactly, with the learned pixel model
        (:mod:`aezip.lossless`; the pixel mode, formats/aez.md §5.5); *quality*, *model*,
        *step* and *min_psnr* do not apply.
    :param max_error: the pixel mode within ±max_error gray levels (1..32; 0 = lossless).
    """

    def __init__(self, quality=None, *, model=None, step=None, min_psnr=None, store_psnr=True, judge=True,
                 lossless=False, max_error=None):
        self.max_error = None
        if lossless or max_error is not None:
            k = 0 if max_error is None else max_error
            if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= 32:
                raise BadInput(f"max_error {max_error!r} must be a whole number from 0 to 32")
            if lossless and k:
                raise BadInput(f"lossless means max_error 0, not {k}")
            if quality is not None or model is not None or step is not None or min_psnr is not None:
                raise BadInput("quality, model, step and min_psnr apply to the lossy mode, not to "
                               f"{'lossless' if not k else f'max_error {k}'} coding")
            self.max_error, self.quality, self.store_psnr = int(k), 0, store_psnr
            self.model = self.grid = self.quant_table = self.min_psnr = None
            self.judge = False   # the pixel coder handles any image; nothing to warn about
            return
        if quality is None:
            quality = zoo.DEFAULT_QUALITY
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 9:
            raise BadInput(f"quality {quality!r} must be an integer from 1 to 9")
        if step is not None and not (isinstance(step, (int, float, np.floating)) and 0 < step < 1e6):
            raise BadInput(f"quantization step {step!r} must be a positive fraction of the model's step unit")
        self.model = zoo.get_codec_model(model if model is not None else zoo.ladder_row(int(quality))[0])
        cal = self.model.meta["calibration"]
        if step is None:
            self.quality = int(quality)
            self.grid = grid_for(cal, STEP_FRACTION[self.quality])
            self.quant_table = None
        else:
            self.quality = 0
            g = grid_for(cal, float(step))
            self.grid = Grid.from_table(g.offsets, g.steps, g.sample_size, cal)
            self.quant_table = container_v2.QuantTable(g.sample_size, tuple(g.offsets.tolist()),
                                                       tuple(g.steps.tolist()))
        self.min_psnr = min_psnr
        self.store_psnr = store_psnr
        self.judge = judge
        # the verdict's PSNR floor is measured per quality level with the ladder's model
        ladder = zoo.ladder_row(self.quality)[0] if self.quality else None
        self.judge_level = self.quality if ladder == self.model.name else None

    def encode(self, images, progress=None, verdicts=None):
        """Return (quantized codes, per-image PSNR in dB of their reconstructions) of checked images.

        *progress*, if given, is called with the number of images done after each chunk;
        *verdicts*, if given (uint8 (N,)), receives each image's digit-check reason bits.
        """
        m, grid = self.model, self.grid
        codes = np.empty((len(images), m.latent_dim), grid.dtype)
        scores = np.empty(len(images))

        def work(lo, hi):
            q = grid.quantize(m.encode(images[lo:hi]))
            codes[lo:hi] = q
            recon = m.decode(grid.dequantize(q))
            scores[lo:hi] = psnr_per_image(images[lo:hi], recon)
            if verdicts is not None:
                verdicts[lo:hi] = judge(images[lo:hi], recon, self.judge_level, scores[lo:hi], parallel=False)[1]

        map_chunks(work, len(images), progress)
        return codes, scores

    def decode(self, codes, progress=None):
        """The images a decoder makes of quantized *codes* (what :meth:`encode` returned)."""
        return decode_codes(self.model, self.grid, codes, progress)

    def compress(self, images, names=None, source_form=container.SOURCE_IMAGES, preprocessed=False):
        """Return the bytes of an .aez file holding *images* (uint8 (N, H, W))."""
        return self.compress_archive(images, names, source_form, preprocessed=preprocessed)[0]

    def compress_archive(self, images, names=None, source_form=container.SOURCE_IMAGES, progress=None,
                         preprocessed=False):
        """Return (.aez bytes, per-image PSNR in dB of what a decoder will output; inf = exact)."""
        if self.max_error is not None:
            return self._compress_pixels(images, names, source_form, preprocessed)
        images = _check_images(images, self.model.output_shape)
        names = _check_names(names, len(images), source_form)
        verdicts = np.zeros(len(images), np.uint8) if self.judge else None
        codes, scores = self.encode(images, progress, verdicts)
        raw = None
        if self.min_psnr is not None:
            index = np.flatnonzero(scores < self.min_psnr)
            if len(index):   # the exact copies are coded by the pixel model too (formats/aez.md §5.6)
                raw = (index, lossless.model_digest(), lossless.encode_pixels(images[index], 0))
                scores[index] = math.inf
        stored = psnr_bytes(scores) if self.store_psnr else None
        data = archive.write_lossy(self.model.digest, self.quality, self.grid, codes, source_form=source_form,
                                   names=names, psnr=stored, raw=raw, quant_table=self.quant_table,
                                   preprocessed=preprocessed, judged=self.judge,
                                   verdicts=verdicts if self.judge and verdicts.any() else None)
        return data, scores


    def _compress_pixels(self, images, names, source_form, preprocessed):
        """The pixel mode: the pixels coded by aezip.lossless, exactly or within ±max_error."""
        images = _check_images(images, (28, 28))
        names = _check_names(names, len(images), source_form)
        k = self.max_error
        payload = lossless.encode_pixels(images, k)
        if k:
            scores = psnr_per_image(images, lossless.bins.centres(k)[lossless.bins.to_bins(images, k)])
        else:
            scores = np.full(len(images), math.inf)
        data = archive.write_pixels(lossless.model_digest(), k, payload, len(images), source_form=source_form,
                                    names=names, psnr=psnr_bytes(scores) if self.store_psnr else None,
                                    preprocessed=preprocessed)
        return data, scores


def psnr_bytes(scores):
    """The Psnr section's bytes (§5.3): floor(PSNR / 0.5) clipped to 0..254, 255 for exact."""
    return np.where(np.isinf(scores), PSNR_EXACT,
                    np.clip(np.floor(scores / PSNR_UNIT), 0, PSNR_EXACT - 1)).astype(np.uint8)


def _check_names(names, count, source_form):
    if names is None:
        return None
    names = [str(n) for n in names]
    if len(names) != count:
        raise BadInput(f"{len(names)} names for {count} images")
    if source_form != container.SOURCE_IMAGES:
        raise BadInput("names are only stored for image files (source form 0), not for one IDX or .npy array")
    try:
        check_names(names)
    except UnsafeName as e:
        raise BadInput(f"{e} (aezip.names.unique_names makes a list that passes)") from None
    return names


class AezDecompressor:
    """Decodes .aez bytes (format version 1 or 2) into uint8 (N, H, W) images; the mirror of
    :class:`AezCompressor`.

    ``decompress`` mirrors ``compress``, ``decompress_archive`` mirrors ``compress_archive``
    and ``decode`` (a parsed archive -> images) mirrors ``encode``.  The models it loads are
    kept, by digest, so one decompressor reused over many archives loads each once.
    """

    def __init__(self):
        self._models = {}

    def model_for(self, contents):
        """The installed model that wrote the archive (parsed into *contents*)."""
        model = self._models.get(contents.model_digest)
        if model is None:
            model = zoo.model_for_digest(contents.model_digest, contents.model_name)
            self._models[contents.model_digest] = model
        if model.task != "reconstruct":
            raise BadAezFile(f"archive names model {model.model_id}, a {model.task} model, not a codec model")
        return model

    def decompress(self, data):
        """The images of the .aez bytes *data*."""
        return self.decompress_archive(data)[1]

    def decompress_archive(self, data, progress=None):
        """Return (parsed :class:`~aezip.archive.Contents`, images); *progress* as for
        :meth:`AezCompressor.encode`."""
        contents = archive.read(data)
        return contents, self.decode(contents, progress)

    def decode(self, contents, progress=None):
        """The images of a parsed archive: its codes decoded, and the images it stores
        exactly put in their places."""
        out = None
        for lo, hi, images in self.iter_decode(contents, progress=progress):
            if out is None:
                out = np.empty((contents.count,) + images.shape[1:], np.uint8)
            out[lo:hi] = images
        return out

    def iter_decode(self, contents, chunk=16384, progress=None):
        """(start, stop, images) pieces of the archive's images, in order, *chunk* at a time:
        memory stays bounded by the chunk, whatever the archive holds."""
        if contents.pixel_mode:
            yield from self._iter_pixels(contents, chunk)
            return
        model = self.model_for(contents)
        grid = contents.grid(model)
        codes = contents.codes(model, grid)
        raw_index = contents.raw_index
        raw = self._raw_images(contents, model.output_shape) if len(raw_index) else None
        for lo in range(0, contents.count, chunk):
            hi = min(lo + chunk, contents.count)
            images = decode_codes(model, grid, codes[lo:hi], progress)
            if raw is not None:
                a, b = np.searchsorted(raw_index, [lo, hi])
                images[raw_index[a:b] - lo] = raw[a:b]
            yield lo, hi, images

    @staticmethod
    def _pixel_model(digest):
        """The installed pixel model an archive names (the current one or an older bundled one)."""
        model = lossless.model_for_digest(digest)
        if model is None:
            raise UnknownModel(f"archive needs the pixel model with digest {digest.hex()}, which is not installed "
                               f"(installed: {lossless.model_name()}@{lossless.model_digest().hex()})")
        return model

    def _iter_pixels(self, contents, chunk):
        """The pixel mode's images (formats/aez.md §5.5, §5.7)."""
        model = self._pixel_model(contents.model_digest)
        # a few of the payload's chunks at a time: memory bounded whatever the image count
        yield from lossless.iter_decode_pixels(contents.pixel_payload, contents.count, 28, 28, contents.level,
                                               model=model)

    def _raw_images(self, contents, shape):
        """The exact copies of the Raw section: plain pixels, or coded by the pixel model."""
        digest, blob = contents.raw_payload()
        if digest is None:
            return contents.raw_images(shape)
        model = self._pixel_model(digest)
        return lossless.decode_pixels(blob, len(contents.raw_index), shape[0], shape[1], 0, model=model)
