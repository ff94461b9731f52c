"""A Pillow plugin for .aez files: ``import aezip.pillow`` and Pillow opens and saves them.

::

    import aezip.pillow                      # registers the "AEZ" format with Pillow
    from PIL import Image

    with Image.open("digits.aez") as im:     # a multi-frame image, one frame per digit
        print(im.n_frames, im.mode, im.size) # e.g. 100 L (28, 28)
        im.seek(3)                           # the fourth digit
        im.save("four.png")

    first.save("y.aez", save_all=True, append_images=rest, quality=5)

Pillow has no entry-point discovery, so the format is registered when this module is
imported (as pillow-avif-plugin and ``pillow_heif.register_heif_opener()`` do);
``import aezip`` alone registers nothing.

Opening reads the whole file and decodes every frame at once (the format has no random
access, and decoding is fast); seeking and loading then copy a frame from memory.  The
layout follows Pillow's own multi-frame plugins (``AvifImagePlugin``): each frame is a
``raw`` tile read from memory.

Errors: a file that does not start with the .aez magic is not claimed, so Pillow's
other plugins try it as usual.  A file that does but is damaged (bad checksum,
unsupported version, bad field or section) raises :class:`AezImageError`, which is both
:class:`PIL.UnidentifiedImageError` (what ``Image.open`` raises for a file it cannot
read) and :class:`aezip.BadAezFile`, with the one-line reason.  A sound file that cannot
be decoded here (the model it names is not installed) raises ``OSError`` with the reason.
"""

from io import BytesIO

import numpy as np
from PIL import Image, ImageFile, ImageSequence, UnidentifiedImageError

import aezip
from aezip.errors import AezError, BadAezFile

__all__ = ["AezImageFile", "AezImageError", "FORMAT", "EXTENSIONS", "register"]

FORMAT = "AEZ"
EXTENSIONS = [".aez"]
MIME = "image/x-aez"
_MAGIC = b"\xaeAEZ"


class AezImageError(UnidentifiedImageError, BadAezFile):
    """An .aez file that Pillow cannot open: damaged, truncated or of another version."""


def _accept(prefix):
    return prefix[:4] == _MAGIC


def _describe(fp, filename):
    name = filename or getattr(fp, "name", None)
    return str(name) if name else "<.aez data>"


class AezImageFile(ImageFile.ImageFile):
    """An .aez archive as a multi-frame mode-L image (one frame per stored image)."""

    format = FORMAT
    format_description = "aezip learned digit codec"
    _close_exclusive_fp_after_loading = False
    __frame = -1

    def _open(self):
        data = self.fp.read()
        name = _describe(self.fp, self.filename)
        try:
            # Decoding is what checks everything the format promises (checksum, every field,
            # every section), so a damaged file fails here, at open, as Pillow's plugins do.
            frames = aezip.decompress(data)
            header = aezip.read_header(data)
        except BadAezFile as e:
            raise AezImageError(f"{name}: {e}") from e
        except AezError as e:  # e.g. the model the file names is not installed
            raise OSError(f"{name}: {e}") from e
        self._aez_frames = np.ascontiguousarray(frames, dtype=np.uint8)
        self._size = (frames.shape[2], frames.shape[1])
        self._mode = "L"
        self.n_frames = len(frames)
        self.is_animated = self.n_frames > 1
        for key in ("quality", "model_id"):
            value = getattr(header, key, None)
            if value is not None:
                self.info[key] = value
        self.seek(0)

    def seek(self, frame):
        if not self._seek_check(frame):
            return
        self.__frame = frame
        self.tile = [ImageFile._Tile("raw", (0, 0, *self.size), 0, ("L", 0, 1))]

    def tell(self):
        return self.__frame

    def load(self):
        if self.tile:
            pixels = self._aez_frames[self.__frame]
            if self.fp and self._exclusive_fp:
                self.fp.close()
            self.fp = BytesIO(pixels.tobytes())
        return super().load()

    def load_seek(self, pos):
        # Reading goes through self.fp (the frame's pixels in memory); defining this
        # also keeps ImageFile.load from memory-mapping the .aez file as raw pixels.
        self.fp.seek(pos)


def _frames_of(images):
    for image in images:
        yield from ImageSequence.Iterator(image)


def _pixels(frame, index):
    if frame.mode != "L":
        frame = frame.convert("L")
    a = np.asarray(frame, dtype=np.uint8)
    if a.shape != (28, 28):
        raise aezip.BadInput(f"frame {index} is {frame.size[0]}x{frame.size[1]}; .aez frames are 28x28 "
                             "(resize first, or use the aezip CLI, which fits any image)")
    return a


def _encode(frames, info):
    # each frame is copied out as it comes: a multi-frame source yields one object, re-seeked
    images = np.stack([_pixels(f, i) for i, f in enumerate(frames)])
    return aezip.compress(images, quality=info.get("quality"), names=info.get("names"),
                          min_psnr=info.get("min_psnr"))


def _save(im, fp, filename):
    fp.write(_encode([im], im.encoderinfo))


def _save_all(im, fp, filename):
    frames = _frames_of([im, *im.encoderinfo.get("append_images", [])])
    fp.write(_encode(frames, im.encoderinfo))


def register():
    """Register the format with Pillow (done on import; calling it again is harmless)."""
    Image.register_open(FORMAT, AezImageFile, _accept)
    Image.register_save(FORMAT, _save)
    Image.register_save_all(FORMAT, _save_all)
    Image.register_extensions(FORMAT, EXTENSIONS)
    Image.register_mime(FORMAT, MIME)


register()
