"""The .aez byte layout (formats/aez.md), and nothing else.

Only the stdlib (struct, zlib) and zstandard are used here: reading or writing
an archive needs no model.  Section numbers in comments refer to formats/aez.md.
"""

import struct
import zlib
from dataclasses import dataclass, field

import numpy as np
import zstandard

from .container_v2 import FieldReader, decompress_bounded, name_list
from .errors import BadAezFile, UnsupportedVersion

__all__ = [
    "MAGIC", "FORMAT_VERSION", "Header", "Archive",
    "FLAG_NAMES", "FLAG_PSNR", "FLAG_RAW",
    "pack", "unpack", "read_header", "model_id", "DIGEST_BYTES", "MAX_IMAGES",
]

# §3 File structure
MAGIC = b"\xaeAEZ"
FORMAT_VERSION = 1

# §4.1 Fixed header: magic, version, flags, quality, sample size, model digest,
# image count, height, width, latent dim, model name length, source form.
FIXED = struct.Struct("<4sBBBB8sIHHHBB")
assert FIXED.size == 28

# §4.2 Flags
FLAG_NAMES = 0x01   # a Names section follows the Codes section
FLAG_PSNR = 0x02    # a Psnr section follows
FLAG_RAW = 0x04     # a Raw section (images stored losslessly) follows
# 0x08 .. 0x80 are reserved: writers set them to 0, readers reject the file.
FLAGS_KNOWN = FLAG_NAMES | FLAG_PSNR | FLAG_RAW

QUANT = struct.Struct("<ff")          # §4.3 one row per latent dimension: offset, step
SECTION_LENGTH = struct.Struct("<I")  # §5 every section starts with its length
TRAILER = struct.Struct("<I")         # §6 CRC-32 of every byte before it

# §4.4 Source_Form: what the images came from, so extract can write them back alike
SOURCE_IMAGES = 0   # image files (names in the Names section) or an API call
SOURCE_IDX = 1      # one MNIST IDX file
SOURCE_NPY = 2      # one .npy array
SOURCE_FORMS = {SOURCE_IMAGES: "images", SOURCE_IDX: "idx", SOURCE_NPY: "npy"}

# §7 Limits (implementation limits; the format's field widths allow more)
MAX_IMAGES = 1_000_000
MAX_SIDE = 256
MAX_LATENT = 4096
MAX_NAME = 4096
MAX_CODE_BYTES = 1 << 27    # decompressed Codes section (as version 2, formats/aez.md §7)
MAX_PIXELS = 1 << 30        # count x height x width of the decoded images
MAX_NAMES_BYTES = 1 << 26   # decompressed Names section (as version 2)
MAX_RAW = 65_536            # images in the Raw section (as version 2)
ZSTD_LEVEL = 19         # Names, Psnr and Raw sections
# The Codes section: zstd's optimal parser (btultra) with a shallow search and matches of
# at least 6 bytes, and one zstd block per code dimension, so that each dimension's
# values get their own Huffman table.  Measured on the MNIST test set's codes
# (scripts/zstd_sweep.py, bench/zstd.md): within 1% of level 19 (one block per dimension)
# at every quality level and smaller at most, in a third to a fifth of its time.
# The window follows a dimension's row of codes (code_window_log): 16 KB (window_log 14)
# up to 16,384 bytes per row, i.e. the 10,000 test images (smaller than 19 at 8 of 9
# levels; q5: 68,166 -> 68,102 bytes), then the row's size rounded up to a power of two,
# at most 128 KB (60,000 training images at q5: 406,435 bytes with 14, 404,024 with 16).
CODE_WINDOW_LOGS = (14, 17)  # the least and the most window_log of the Codes section
CODE_PARAMS = dict(strategy=zstandard.STRATEGY_BTULTRA, window_log=CODE_WINDOW_LOGS[0], chain_log=16,
                   hash_log=17, search_log=1, min_match=6, target_length=64)  # window_log: see code_window_log
CODE_BLOCK_MIN = 4096   # bytes of codes per zstd block at least (see code_frame)
PSNR_UNIT = 0.5         # Psnr section: dB per step of the stored byte
PSNR_EXACT = 255        # the byte value meaning "reconstructs exactly" (infinite PSNR)
MIN_FILE = FIXED.size + 1 + SECTION_LENGTH.size + TRAILER.size


DIGEST_BYTES = 8   # §4.1 an archive names its model by the first 8 bytes of the weights' SHA-256


def model_id(name, digest):
    """The one spelling of a model id, ``NAME@DIGEST``: the model's name and the first
    DIGEST_BYTES of its weights' SHA-256 in hex.  *digest* is those bytes or the SHA-256 as hex."""
    if isinstance(digest, str):
        digest = bytes.fromhex(digest)
    return f"{name}@{bytes(digest[:DIGEST_BYTES]).hex()}"


@dataclass(frozen=True)
class Header:
    """Everything in an .aez file before the sections: what a decoder needs to know."""
    version: int            # Format_Version, 1
    flags: int              # Flags bit field (§4.2)
    quality: int            # Quality level 1..9 the writer used, 0 for a custom setting
    sample_size: int        # bytes per quantized code value, 1 or 2
    model_digest: bytes     # first 8 bytes of the SHA-256 of the model's weights file
    model_name: str         # readable model name, e.g. "mlp9"
    count: int              # number of images
    height: int             # image height in pixels (28)
    width: int              # image width in pixels (28)
    latent_dim: int         # code values per image
    offsets: tuple          # per-dimension dequantization offset (float32)
    steps: tuple            # per-dimension dequantization step (float32)
    source_form: int = SOURCE_IMAGES  # §4.4 what the images came from

    @property
    def model_id(self):
        """The model id as printed by the CLI: ``name@digest-hex``."""
        return model_id(self.model_name, self.model_digest)

    @property
    def has_names(self):
        return bool(self.flags & FLAG_NAMES)


@dataclass
class Archive:
    """A parsed .aez file: the header and its decoded sections."""
    header: Header
    codes: np.ndarray                      # (count, latent_dim) uint8 or uint16
    names: list = None                     # count relative paths, or None
    psnr: np.ndarray = None                # (count,) uint8 in PSNR_UNIT dB, or None
    raw_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.uint32))
    raw_pixels: np.ndarray = None          # (len(raw_index), height, width) uint8
    size: int = 0                          # bytes in the whole file


def _frame(data):
    return zstandard.ZstdCompressor(level=ZSTD_LEVEL, write_checksum=False).compress(data)


def code_frame(rows):
    """One zstd frame of a (dims, count) array: a block per row, or per few rows when they are short.

    A block's Huffman table costs tens of bytes, so rows are grouped into blocks of at
    least CODE_BLOCK_MIN bytes (10,000 images: one dimension per block; 100 images of 32 codes: one block).
    """
    rows = np.ascontiguousarray(rows)
    row_bytes = rows[0].nbytes if len(rows) else 0
    params = zstandard.ZstdCompressionParameters(write_checksum=0, write_content_size=1,
                                                 **dict(CODE_PARAMS, window_log=code_window_log(row_bytes)))
    per_block = max(1, -(-CODE_BLOCK_MIN // max(1, row_bytes))) if len(rows) else 1
    return blocked_frame(zstandard.ZstdCompressor(compression_params=params), rows, per_block)


def code_window_log(row_bytes):
    """zstd window_log of the Codes section for rows of *row_bytes* bytes: the row's size
    rounded up to a power of two, within CODE_WINDOW_LOGS (scripts/zstd_sweep.py measures it)."""
    low, high = CODE_WINDOW_LOGS
    return min(high, max(low, (max(1, row_bytes) - 1).bit_length()))


def blocked_frame(compressor, rows, rows_per_block):
    """One zstd frame of the C-contiguous array *rows*, ending a zstd block after every
    *rows_per_block* rows (each block gets its own Huffman table)."""
    coder = compressor.compressobj(size=rows.nbytes)
    parts = []
    for i in range(0, len(rows), rows_per_block):
        parts.append(coder.compress(rows[i:i + rows_per_block].tobytes()))
        parts.append(coder.flush(zstandard.COMPRESSOBJ_FLUSH_BLOCK))
    parts.append(coder.flush())
    return b"".join(parts)


def _section(data):
    return SECTION_LENGTH.pack(len(data)) + data


def pack(header: Header, codes, names=None, psnr=None, raw_index=None, raw_pixels=None):
    """Return the bytes of an .aez file.  *codes* is (count, latent_dim) unsigned ints."""
    h = header
    dtype = np.dtype("<u1") if h.sample_size == 1 else np.dtype("<u2")
    codes = np.asarray(codes)
    if codes.shape != (h.count, h.latent_dim):
        raise ValueError(f"codes shape {codes.shape} does not match header ({h.count}, {h.latent_dim})")
    name = h.model_name.encode()
    if not 1 <= len(name) <= 255:
        raise ValueError(f"model name {h.model_name!r} must be 1 to 255 UTF-8 bytes")
    flags = (FLAG_NAMES if names is not None else 0) | (FLAG_PSNR if psnr is not None else 0) \
        | (FLAG_RAW if raw_index is not None and len(raw_index) else 0)
    out = [FIXED.pack(MAGIC, FORMAT_VERSION, flags, h.quality, h.sample_size, h.model_digest,
                      h.count, h.height, h.width, h.latent_dim, len(name), h.source_form), name]
    out += [QUANT.pack(o, s) for o, s in zip(h.offsets, h.steps)]
    # §5.1 Codes, dimension-major: all images' first value, then all second values, ...
    out.append(_section(code_frame(codes.astype(dtype).T)))
    if names is not None:
        blob = b"".join(struct.pack("<H", len(b)) + b for b in (n.encode("utf-8") for n in names))
        out.append(_section(_frame(blob)))
    if psnr is not None:
        out.append(_section(_frame(np.asarray(psnr, np.uint8).tobytes())))
    if flags & FLAG_RAW:
        idx = np.asarray(raw_index, "<u4")
        pix = np.asarray(raw_pixels, np.uint8)
        out.append(_section(_frame(struct.pack("<I", len(idx)) + idx.tobytes() + pix.tobytes())))
    body = b"".join(out)
    return body + TRAILER.pack(zlib.crc32(body))


class _Reader(FieldReader):
    """The version 1 reader: the shared field reader plus version 1's sections (u32 length,
    one zstd frame)."""

    def section(self, what, expect_size, limit=None):
        (length,) = SECTION_LENGTH.unpack(self.take(4, f"{what} section length"))
        frame = self.take(length, f"{what} section")
        return _unframe(frame, what, expect_size, limit, self)


# Compressed input fed to zstd per step while decompressing a section.  A zstd
# block of up to 128 KiB can be coded in 4 bytes (an RLE block), so one step can
# produce at most about 64 x 128 KiB = 8 MiB more than the section really needs
# before the size check below stops it.
_FEED = 256


def _unframe(frame, what, expect_size, limit=None, reader=None):
    """Decompress one zstd frame, checking its declared size before allocating.

    The output grows only with what the frame really holds, and never past the declared
    size: a frame that lies about its size fails before much is allocated.  The section
    must be exactly one frame, nothing after it.
    """
    try:
        declared = zstandard.frame_content_size(frame)
    except zstandard.ZstdError as e:
        raise BadAezFile(f"{what} section is not a zstd frame ({e})") from None
    if declared < 0:
        raise BadAezFile(f"{what} section's zstd frame does not declare its size")
    if expect_size is not None and declared != expect_size:
        raise BadAezFile(f"{what} section declares {declared} bytes, header implies {expect_size}")
    if expect_size is None and declared > limit:
        raise BadAezFile(f"{what} section declares {declared} bytes, limit {limit}")
    if reader is not None:
        reader.hold(what, declared)
    return decompress_bounded(frame, what, declared)


def _verify(data):
    """Check magic, version, size and CRC of a whole file; return the body."""
    if len(data) < 4 or data[:4] != MAGIC:
        raise BadAezFile(f"not an .aez file (magic {bytes(data[:4])!r}, expected {MAGIC!r})")
    if len(data) > 4 and data[4] != FORMAT_VERSION:
        raise UnsupportedVersion(f"unsupported .aez format version {data[4]} "
                                 f"(this aezip reads version {FORMAT_VERSION})")
    if len(data) < MIN_FILE:
        raise BadAezFile(f"truncated .aez file: {len(data)} bytes, the smallest is {MIN_FILE}")
    body = memoryview(data)[:-TRAILER.size]
    (stored,) = TRAILER.unpack(data[-TRAILER.size:])
    computed = zlib.crc32(body)
    if stored != computed:
        raise BadAezFile(f"checksum mismatch: stored 0x{stored:08x}, computed 0x{computed:08x} "
                         "(the file is truncated or damaged)")
    return body


def _parse_header(r: _Reader):
    (magic, version, flags, quality, sample_size, digest, count, height, width,
     latent, name_len, source_form) = FIXED.unpack(r.take(FIXED.size, "fixed header"))
    if flags & ~FLAGS_KNOWN:
        raise BadAezFile(f"reserved flag bits set (flags 0x{flags:02x})")
    if source_form not in SOURCE_FORMS:
        raise BadAezFile(f"source form {source_form} (must be 0, 1 or 2)")
    if sample_size not in (1, 2):
        raise BadAezFile(f"sample size {sample_size} (must be 1 or 2)")
    if quality > 9:
        raise BadAezFile(f"quality {quality} (must be 0 to 9)")
    if not 1 <= count <= MAX_IMAGES:
        raise BadAezFile(f"image count {count} outside 1..{MAX_IMAGES}")
    if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE):
        raise BadAezFile(f"image size {width}x{height} outside 1..{MAX_SIDE}")
    if not 1 <= latent <= MAX_LATENT:
        raise BadAezFile(f"latent dimension {latent} outside 1..{MAX_LATENT}")
    if count * latent * sample_size > MAX_CODE_BYTES or count * height * width > MAX_PIXELS:
        raise BadAezFile(f"{count} images of {width}x{height} with {latent} code values "
                         "exceed this decoder's size limits")
    if name_len == 0:
        raise BadAezFile("empty model name")
    try:
        name = bytes(r.take(name_len, "model name")).decode("utf-8")
    except UnicodeDecodeError:
        raise BadAezFile("model name is not UTF-8") from None
    quant = np.frombuffer(r.take(QUANT.size * latent, "quantization table"), "<f4").reshape(latent, 2)
    if not np.isfinite(quant).all() or (quant[:, 1] <= 0).any():
        raise BadAezFile("quantization table holds a non-finite value or a step <= 0")
    top = np.float32((1 << (8 * sample_size)) - 1)
    with np.errstate(over="ignore"):
        if not np.isfinite(quant[:, 0] + top * quant[:, 1]).all():
            raise BadAezFile("quantization table: the largest code value dequantizes to infinity")
    return Header(version, flags, quality, sample_size, digest, name, count, height, width, latent,
                  tuple(float(v) for v in quant[:, 0]), tuple(float(v) for v in quant[:, 1]), source_form)


def section_spans(data):
    """(start, end) byte offsets of each section's zstd frame in a well-formed file (for tools
    and fuzzers that rewrite sections); the file's header must parse."""
    h = read_header(data)
    pos = FIXED.size + len(h.model_name.encode()) + QUANT.size * h.latent_dim
    spans = []
    while pos < len(data) - TRAILER.size:
        (n,) = SECTION_LENGTH.unpack_from(data, pos)
        spans.append((pos + SECTION_LENGTH.size, pos + SECTION_LENGTH.size + n))
        pos += SECTION_LENGTH.size + n
    return spans


def read_header(data):
    """Parse and return the :class:`Header` of an .aez file (bytes), after checking its CRC."""
    return _parse_header(_Reader(_verify(bytes(data))))


def unpack(data) -> Archive:
    """Parse a whole .aez file.  Raises BadAezFile for anything malformed."""
    data = bytes(data)
    r = _Reader(_verify(data))
    r.held = len(data)
    h = _parse_header(r)
    dtype = np.dtype("<u1") if h.sample_size == 1 else np.dtype("<u2")
    raw = r.section("codes", h.count * h.latent_dim * h.sample_size)
    codes = np.frombuffer(raw, dtype).reshape(h.latent_dim, h.count).T
    archive = Archive(h, codes, size=len(data))
    if h.flags & FLAG_NAMES:
        archive.names = _parse_names(r.section("names", None, min(h.count * (2 + MAX_NAME), MAX_NAMES_BYTES)),
                                     h.count)
    if h.flags & FLAG_PSNR:
        archive.psnr = np.frombuffer(r.section("psnr", h.count), np.uint8)
    if h.flags & FLAG_RAW:
        limit = 4 + min(h.count, MAX_RAW) * (4 + h.height * h.width)
        blob = r.section("raw", None, limit)
        if len(blob) < 4:
            raise BadAezFile("raw section shorter than its count field")
        (n,) = struct.unpack_from("<I", blob)
        if not 1 <= n <= h.count or len(blob) != 4 + n * (4 + h.height * h.width):
            raise BadAezFile(f"raw section holds {len(blob)} bytes, not {n} images of {h.width}x{h.height}")
        idx = np.frombuffer(blob, "<u4", n, 4)
        if n and (np.any(idx >= h.count) or np.any(np.diff(idx.astype(np.int64)) <= 0)):
            raise BadAezFile("raw section image indices are out of range or not increasing")
        archive.raw_index = idx
        archive.raw_pixels = np.frombuffer(blob, np.uint8, n * h.height * h.width, 4 + 4 * n) \
            .reshape(n, h.height, h.width)
    if r.pos != len(r.data):
        raise BadAezFile(f"{len(r.data) - r.pos} unexpected bytes after the last section")
    return archive


def _parse_names(blob, count):
    """The version 1 Names section: per name a u16 length, then UTF-8 (Appendix B.5.2)."""
    def read_length(pos, i):
        if pos + 2 > len(blob):
            raise BadAezFile(f"names section ends before name {i}")
        (n,) = struct.unpack_from("<H", blob, pos)
        if n > MAX_NAME:
            raise BadAezFile(f"name {i} has a bad length {n}")
        return n, pos + 2
    return name_list(blob, count, read_length)
