"""An .aez file of either format version as one view, and the writer of version 2 files.

:func:`read` parses a file (version 1 or 2, no model needed) into :class:`Contents`:
what the header and the sections say.  Decoding the images needs the model:
:meth:`Contents.codes` unpacks a lossy archive's codes with the model's grid, and
the codec turns codes or pixel payloads into images.
"""

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np

from . import codedicts, container, container_v2 as v2
from .errors import BadAezFile, BadInput, UnsafeName, UnsupportedVersion
from .grid import STEP_FRACTION, Grid, grid_for
from .names import check_names
from .zoo import name_for_digest

__all__ = ["Contents", "read", "read_header", "write_lossy", "write_pixels", "VERSIONS"]

VERSIONS = (1, 2)
PSNR_UNIT = container.PSNR_UNIT
PSNR_EXACT = container.PSNR_EXACT


@dataclass(eq=False)
class Contents:
    """What an archive says, in either version."""
    version: int
    pixel_mode: bool
    level: int                 # lossy: quality 0..9 (0 custom); pixel mode: max error
    source_form: int
    model_digest: bytes        # v1: of the weights file; v2: canonical (Appendix A)
    count: int
    size: int
    names: list = None
    psnr: np.ndarray = None
    verdicts: np.ndarray = None
    judged: bool = False
    preprocessed: bool = False
    raw_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    model_name: str = None     # v1 stores it; v2 leaves it to the installed model
    _v1: object = None
    _v2: object = None

    @property
    def quality(self):
        return None if self.pixel_mode else self.level

    @property
    def max_error(self):
        return self.level if self.pixel_mode else None

    def grid(self, model):
        """The lossy model's quantization grid for this archive (§4.3)."""
        if self.pixel_mode:   # a pixel-mode file has none: its decoder must not ask (found by fuzzing)
            raise BadAezFile("a pixel-mode archive has no quantization grid (this decoder reads lossy archives)")
        if self._v1 is not None:
            h = self._v1.header
            try:
                return Grid.from_table(h.offsets, h.steps, h.sample_size, model.meta["calibration"])
            except ValueError as e:
                raise BadAezFile(str(e)) from None
        t = self._v2.header.quant_table
        try:
            if t is not None:
                if len(t.offsets) != model.latent_dim:
                    raise BadAezFile(f"quantization table has {len(t.offsets)} dimensions, model "
                                     f"{model.model_id} has {model.latent_dim}")
                return Grid.from_table(t.offsets, t.steps, t.sample_size, model.meta["calibration"])
            return grid_for(model.meta["calibration"], STEP_FRACTION[self.level])
        except ValueError as e:
            raise BadAezFile(str(e)) from None

    def codes(self, model, grid):
        """(count, latent_dim) codes of a lossy archive, checked against the grid's levels."""
        if self._v1 is not None:
            h = self._v1.header
            if model.latent_dim != h.latent_dim or model.output_shape != (h.height, h.width):
                raise BadAezFile(f"archive shape ({h.latent_dim} codes, {h.width}x{h.height}) does not "
                                 f"match model {model.model_id} ({model.latent_dim} codes, {model.output_shape})")
            codes = self._v1.codes
        else:
            method, blob = self._v2.body
            if method == v2.STORED:
                decoded = self.count * model.latent_dim * grid.sample_size
                if decoded > v2.MAX_SECTION or self._v2.held + decoded > v2.MAX_HELD:
                    raise BadAezFile(f"codes section: {self.count} images of {model.latent_dim} codes take "
                                     f"{decoded} bytes decoded, beyond this decoder's limits (§7)")
                codes = v2.unpack_bits(blob, self.count, grid.bits)
            else:
                if method == v2.DICT_FRAME:
                    blob = v2.undict(blob, self._v2.header.model_digest, self.level)
                want = self.count * model.latent_dim * grid.sample_size
                if len(blob) != want:
                    raise BadAezFile(f"codes section decompressed to {len(blob)} bytes, {self.count} images of "
                                     f"{model.latent_dim} codes need {want}")
                codes = np.frombuffer(blob, "<u1" if grid.sample_size == 1 else "<u2") \
                    .reshape(model.latent_dim, self.count).T
        for lo in range(0, self.count, 65536):
            over = codes[lo:lo + 65536] >= grid.levels
            if over.any():
                i, d = np.argwhere(over)[0]
                raise BadAezFile(f"image {lo + i}: code {int(codes[lo + i, d])} of dimension {d} is outside "
                                 f"its {int(grid.levels[d])} levels")
        return codes.astype(grid.dtype, copy=False)

    @property
    def pixel_payload(self):
        return self._v2.body[1]

    def raw_payload(self):
        """(pixel model digest or None for plain pixels, bytes) of the Raw section's copies."""
        if self._v1 is not None:
            return None, None
        digest = self._v2.raw_digest
        return (None if digest == v2.PLAIN_PIXELS else digest), self._v2.raw_payload[1]

    def raw_images(self, shape):
        """The plain exact copies of the Raw section, (Raw_Count, H, W) uint8 (see raw_payload)."""
        n = len(self.raw_index)
        if self._v1 is not None:
            return self._v1.raw_pixels
        blob = self._v2.raw_payload[1]
        want = n * shape[0] * shape[1]
        if len(blob) != want:
            raise BadAezFile(f"raw section holds {len(blob)} bytes of pixels, {n} images of "
                             f"{shape[1]}x{shape[0]} need {want}")
        return np.frombuffer(blob, np.uint8).reshape((n,) + tuple(shape))

    def describe(self):
        """One line for `info -v`: version, source, mode, exact copies, flags."""
        form = container.SOURCE_FORMS.get(self.source_form, "?")
        if self.pixel_mode:
            mode = "lossless" if self.level == 0 else f"near-lossless, every pixel within ±{self.level}"
        elif self._v1 is not None:
            h = self._v1.header
            mode = f"lossy, {h.latent_dim} codes x {h.sample_size} byte(s)"
        else:
            mode = f"lossy, quality {self.level}" if self.level else "lossy, custom quantization table"
        extra = ", MNIST-preprocessed inputs" if self.preprocessed else ""
        judged = ""
        if self.judged:
            flagged = 0 if self.verdicts is None else int((self.verdicts != 0).sum())
            judged = f", {flagged} image(s) flagged as not digit-like"
        return (f"format v{self.version}, source {form}, {mode}, {len(self.raw_index)} image(s) stored "
                f"exactly{judged}{extra}")

    def __eq__(self, other):
        if not isinstance(other, Contents):
            return NotImplemented
        return self._key() == other._key()

    def _key(self):
        arr = (lambda a: None if a is None else bytes(np.asarray(a).tobytes()))
        return (self.version, self.flags, self.level, self.source_form, self.model_digest, self.count, self.size,
                self.names, arr(self.psnr), arr(self.verdicts), arr(self.raw_index))

    @property
    def flags(self):
        return self._v1.header.flags if self._v1 is not None else self._v2.header.flags

    @property
    def has_names(self):
        return self.names is not None

    # what tools print: the same names version 1's Header used
    @property
    def header(self):
        return self

    @property
    def quality_label(self):
        if self.pixel_mode:
            return "lossless" if self.level == 0 else f"±{self.level}"
        return self.level or "custom"

    @property
    def model_id(self):
        from .container import model_id
        return model_id(self.model_name or "?", self.model_digest)

    @property
    def height(self):
        return self._v1.header.height if self._v1 is not None else 28

    @property
    def width(self):
        return self._v1.header.width if self._v1 is not None else 28


def _verify(data):
    if len(data) < 4 or data[:4] != container.MAGIC:
        raise BadAezFile(f"not an .aez file (magic {bytes(data[:4])!r}, expected {container.MAGIC!r})")
    if len(data) > 4 and data[4] not in VERSIONS:
        raise UnsupportedVersion(f"unsupported .aez format version {data[4]} "
                                 f"(this aezip reads versions 1 and 2)")
    if len(data) < v2.FIXED.size + 1 + 1 + v2.TRAILER.size:
        raise BadAezFile(f"truncated .aez file: {len(data)} bytes")
    body = memoryview(data)[:-4]   # no copy: sections are views of the file's bytes
    (stored,) = struct.unpack("<I", data[-4:])
    computed = zlib.crc32(body)
    if stored != computed:
        raise BadAezFile(f"checksum mismatch: stored 0x{stored:08x}, computed 0x{computed:08x} "
                         "(the file is truncated or damaged)")
    return body


def read(data) -> Contents:
    """Parse a whole .aez file of either version.  Raises BadAezFile for anything malformed."""
    data = bytes(data)
    body = _verify(data)
    if data[4] == 1:
        a = container.unpack(data)
        h = a.header
        c = Contents(1, False, h.quality, h.source_form, h.model_digest, h.count, len(data),
                     names=a.names, psnr=a.psnr, raw_index=a.raw_index.astype(np.int64),
                     model_name=h.model_name, _v1=a)
        _check_stored_names(c.names)
        return c
    a = v2.unpack(body, len(data))
    h = a.header
    c = Contents(2, h.pixel_mode, h.level, h.source_form, h.model_digest, h.count, len(data),
                 names=a.names, psnr=a.psnr, verdicts=a.verdicts, judged=bool(h.flags & v2.FLAG_JUDGED),
                 preprocessed=bool(h.flags & v2.FLAG_PREPROCESSED), _v2=a)
    if a.raw_index is not None:
        c.raw_index = a.raw_index
    if c.psnr is not None:
        _check_psnr(c)
    c.model_name = name_for_digest(h.model_digest)
    _check_stored_names(c.names)
    return c


def _check_stored_names(names):
    """§5.2: a name that breaks the rules makes the whole archive invalid."""
    if names is not None:
        try:
            check_names(names)
        except UnsafeName as e:
            raise BadAezFile(str(e)) from None


def _check_psnr(c):
    exact = c.psnr == PSNR_EXACT
    if c.pixel_mode and c.level == 0 and not exact.all():
        raise BadAezFile("a lossless archive's Psnr section marks an image as not exact")
    if len(c.raw_index) and not exact[c.raw_index].all():
        raise BadAezFile("an image in the Raw section is not marked exact in the Psnr section")


def read_header(data) -> Contents:
    """The same view as :func:`read` (the whole file is checked: its CRC covers every byte)."""
    return read(data)


def section_layout(data):
    """[(header start, content start, content end, method)] of every section of a well-formed
    version 2 file, in order (for tools and fuzzers that rewrite sections)."""
    data = bytes(data)
    c = read(data)
    h = c._v2.header
    pos = v2.FIXED.size + len(v2.write_varint(h.count))
    if h.quant_table is not None:
        pos += 3 + 8 * len(h.quant_table.offsets)
    present = [True] + [bool(h.flags & f) for f in (v2.FLAG_NAMES, v2.FLAG_PSNR, v2.FLAG_VERDICTS, v2.FLAG_RAW)]
    out = []
    for i, here in enumerate(present):
        if not here:
            continue
        if i == 4:   # Raw: count, gaps and the pixel model digest come before its section
            _, pos = v2.read_varint(data, pos, "raw count")
            for _ in range(len(c.raw_index)):
                _, pos = v2.read_varint(data, pos, "raw gap")
            pos += 8
        head, start = v2.read_varint(data, pos, "section header", 1 << 31)
        out.append((pos, start, start + (head >> 1), head & 1))
        pos = start + (head >> 1)
    return out


def section_spans(data):
    """(start, end) byte offsets of each section's content in a well-formed file of either version."""
    data = bytes(data)
    if data[4] == 1:
        return container.section_spans(data)
    return [(start, end) for _, start, end, _ in section_layout(data)]


def section_data(data, index):
    """The decoded data of section *index* of a version 2 file (stored, or out of its zstd frame)."""
    _, start, end, method = section_layout(data)[index]
    blob = bytes(data[start:end])
    if method == v2.STORED:
        return blob
    if index == 0 and codedicts.is_dict_frame(blob):   # a Codes dictionary frame (§5.1.1)
        h = read(data)._v2.header
        return bytes(v2.undict(codedicts.with_magic(blob), h.model_digest, h.level))
    return bytes(v2.unframe(blob, "section"))


def replace_section(data, index, content, method=v2.STORED):
    """A version 2 file with section *index* replaced by *content* (already a zstd frame when
    *method* is ZSTD) and the checksum recomputed: how fuzzers build well-formed hostile files."""
    head, _, end, _ = section_layout(data)[index]
    body = bytes(data[:head]) + v2.write_varint(2 * len(content) + method) + bytes(content) + bytes(data[end:-4])
    return body + struct.pack("<I", zlib.crc32(body))


def _flags(judged, preprocessed):
    return (v2.FLAG_JUDGED if judged else 0) | (v2.FLAG_PREPROCESSED if preprocessed else 0)


def codes_section(codes, grid, model_digest=None, level=0):
    """The Codes section: bit-packed and stored, or zstd of the dimension-major bytes, the
    smaller; for a few images at a level with a code dictionary (§5.1.1), a dictionary frame
    of the same bytes instead when that is smaller still."""
    bits = len(codes) * int(grid.bits.sum())
    rows = np.ascontiguousarray(codes.astype(grid.dtype).T)
    framed = container.code_frame(rows)
    if bits > 8 << 20 or len(framed) < -(-bits // 8):   # the packed size is known without packing
        best = v2.write_varint(2 * len(framed) + v2.ZSTD) + framed
    else:
        packed = v2.pack_bits(codes, grid.bits)
        best = v2.write_varint(2 * len(packed) + v2.STORED) + packed
    if model_digest is not None and level and len(codes) <= codedicts.MAX_DICT_IMAGES:
        dict_framed = codedicts.dict_frame(rows.tobytes(), model_digest, level)
        if dict_framed is not None and len(dict_framed) < len(best) - 1:   # < with its own header
            dict_best = v2.write_varint(2 * len(dict_framed) + v2.ZSTD) + dict_framed
            best = v2.smallest(best, dict_best)
    return best


def write_lossy(model_digest, level, grid, codes, *, source_form=0, names=None, psnr=None, verdicts=None,
                judged=False, preprocessed=False, raw=None, quant_table=None):
    """A version 2 lossy file.  *raw* is (indices, pixel model digest or PLAIN_PIXELS, bytes)."""
    header = v2.HeaderV2(_flags(judged, preprocessed), level, source_form, model_digest, len(codes),
                         quant_table=quant_table)
    raw_part = None
    if raw is not None:
        index, digest, content = raw
        framed = v2.zstd_frame(content) if digest == v2.PLAIN_PIXELS else None
        raw_part = (index, digest, content, framed)
    data = v2.pack(header, codes_section(codes, grid, model_digest, level), names=names, psnr=psnr, verdicts=verdicts, raw=raw_part)
    code_bytes = codes.size * grid.sample_size
    upper = (len(data) + code_bytes + 2 * len(codes) + (len(v2.names_blob(names)) if names is not None else 0)
             + (len(raw[2]) if raw is not None else 0))
    if upper > v2.MAX_HELD or code_bytes > v2.MAX_SECTION:   # near the limits: check as a reader does
        _check_held(data, code_bytes)
    return data


def _check_held(data, code_bytes):
    """A writer makes no file that §7 lets a reader refuse (formats/aez.md §7)."""
    try:
        c = read(data)
    except BadAezFile as e:
        raise BadInput(f"{e}: beyond formats/aez.md §7; split the images into several archives") from None
    stored = c._v2.body[0] == v2.STORED
    if code_bytes > v2.MAX_SECTION or (stored and c._v2.held + code_bytes > v2.MAX_HELD):
        raise BadInput(f"{c.count} images take {code_bytes} bytes of codes, beyond formats/aez.md §7; "
                       "split the images into several archives")


def write_pixels(model_digest, max_error, payload, count, *, source_form=0, names=None, psnr=None,
                 verdicts=None, judged=False, preprocessed=False):
    """A version 2 pixel-mode file around a pixel coder's *payload*."""
    header = v2.HeaderV2(_flags(judged, preprocessed) | v2.FLAG_PIXELS, max_error, source_form,
                         model_digest, count)
    body = v2.write_varint(2 * len(payload) + v2.STORED) + payload
    return v2.pack(header, body, names=names, psnr=psnr, verdicts=verdicts)
