"""The .aez version 2 byte layout (formats/aez.md §4-§7), and nothing else.

Version 2 stores only what the model and the level do not already say: no
quantization table at a ladder quality, no image size or code count (the model
has them), varint lengths, and sections that zstd would make larger stored as
they are.  Reading needs no model: what a section's bytes mean (how many bits a
code has, how to decode the pixels) is the codec's business.
"""

import re
import struct
import zlib
from dataclasses import dataclass

import numpy as np
import zstandard

from . import codedicts
from .errors import BadAezFile
from .names import NameList

__all__ = [
    "FORMAT_VERSION", "HeaderV2", "ArchiveV2", "pack", "unpack", "parse_header",
    "FLAG_NAMES", "FLAG_PSNR", "FLAG_RAW", "FLAG_PIXELS", "FLAG_VERDICTS", "FLAG_JUDGED",
    "FLAG_PREPROCESSED", "STORED", "ZSTD", "read_varint", "write_varint", "PLAIN_PIXELS",
]

MAGIC = b"\xaeAEZ"
FORMAT_VERSION = 2

# §4.2 Flags
FLAG_NAMES = 0x01         # a Names section follows
FLAG_PSNR = 0x02          # a Psnr section follows
FLAG_RAW = 0x04           # a Raw section (exact copies of some images) follows
FLAG_PIXELS = 0x08        # pixel mode: a Pixels section instead of Codes; Level = Max_Error
FLAG_VERDICTS = 0x10      # a Verdicts section follows (some image was flagged)
FLAG_JUDGED = 0x20        # the writer ran the digit check on every image
FLAG_PREPROCESSED = 0x40  # some images were MNIST-preprocessed from the inputs before coding
FLAGS_KNOWN = 0x7F        # 0x80 is reserved

# §4.1: Magic, Format_Version, Flags, Level_And_Form, Model_Digest, then Image_Count (varint)
FIXED = struct.Struct("<4sBBB8s")
assert FIXED.size == 15
LEVEL_MASK = 0x3F
FORM_SHIFT = 6
SOURCE_FORMS = (0, 1, 2)  # images, one IDX file, one .npy array (as in version 1)
MAX_QUALITY = 9
MAX_ERROR = 32

# §5 a section: Section_Header (varint) = 2 x content length + method
STORED = 0
ZSTD = 1
DICT_FRAME = 2            # not a method in the file: how the reader marks a Codes dictionary frame (§5.1.1)
PLAIN_PIXELS = bytes(8)   # Raw section: Pixel_Model_Digest of pixels stored as they are

# §7 limits, checked before allocating
MAX_IMAGES = 1_000_000
MAX_LATENT = 4096
MAX_NAME = 1024
MAX_NAMES_BYTES = 1 << 26    # the whole Names section, decompressed
MAX_SECTION = 1 << 27        # any section, decompressed (the Codes: count x latent x sample size)
MAX_RAW = 65_536             # exact copies in a Raw section
MAX_RAW_BYTES = 1 << 26      # the Raw section's copies, decompressed
MAX_HELD = 3 << 26           # the file's bytes + what its zstd sections decode to (192 MiB)
TRAILER = struct.Struct("<I")
_FEED = 256                  # compressed bytes fed to zstd per step (see container._unframe)


def write_varint(value):
    """LEB128: 7 bits a byte, least significant group first, high bit = more bytes follow."""
    if value < 0:
        raise ValueError(f"varint of a negative number {value}")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def read_varint(data, pos, what, limit=(1 << 32) - 1, error=BadAezFile):
    """(value, new position) of the minimal LEB128 varint at *pos* of at most 5 bytes; a bad
    one raises *error* (the pixel payload passes its own BadAezFile subclass)."""
    value = shift = 0
    for i in range(5):
        if pos + i >= len(data):
            raise error(f"truncated .aez file: {what} ends at offset {pos + i}")
        byte = data[pos + i]
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            if i and byte == 0:
                raise error(f"{what} at offset {pos} is not a minimal varint")
            if value > limit:
                raise error(f"{what} {value} exceeds {limit}")
            return value, pos + i + 1
    raise error(f"{what} at offset {pos} is a varint longer than 5 bytes")


@dataclass(frozen=True)
class QuantTable:
    """A custom quantization (Level 0 of a lossy archive): code q of dimension d stands for
    offsets[d] + q * steps[d] in binary32."""
    sample_size: int
    offsets: tuple
    steps: tuple


@dataclass(frozen=True)
class HeaderV2:
    """Everything before the sections of a version 2 file."""
    flags: int
    level: int               # lossy: quality 0..9 (0 = custom Quant_Table); pixel mode: Max_Error
    source_form: int
    model_digest: bytes      # the model's canonical digest (Appendix A)
    count: int
    quant_table: QuantTable = None
    version: int = FORMAT_VERSION

    @property
    def pixel_mode(self):
        return bool(self.flags & FLAG_PIXELS)

    @property
    def has_names(self):
        return bool(self.flags & FLAG_NAMES)


@dataclass
class ArchiveV2:
    """A parsed version 2 file: the header and each section's content bytes."""
    header: HeaderV2
    body: tuple              # (method, bytes) of the Codes or Pixels section
    names: list = None
    psnr: np.ndarray = None
    verdicts: np.ndarray = None
    raw_index: np.ndarray = None
    raw_digest: bytes = None
    raw_payload: tuple = None  # (method, bytes)
    size: int = 0
    held: int = 0              # the file's size + what its zstd sections decoded to (§7)


def zstd_frame(data, level=19):
    params = zstandard.ZstdCompressionParameters.from_level(level, write_checksum=0, write_content_size=1,
                                                            write_dict_id=0)
    return zstandard.ZstdCompressor(compression_params=params).compress(data)


def section(content, framed=None):
    """A section holding *content*: stored, or as the zstd frame *framed* when that is smaller."""
    if framed is not None and len(framed) < len(content):
        return write_varint(2 * len(framed) + ZSTD) + framed
    return write_varint(2 * len(content) + STORED) + content


def names_blob(names):
    return b"".join(write_varint(len(b)) + b for b in (n.encode("utf-8") for n in names))


def smallest(*candidates):
    """The shortest of the non-None *candidates* (the first of equals): how the writer picks
    among a section's layouts and methods, so the same input always gives the same bytes."""
    return min((c for c in candidates if c is not None), key=len)


def pack_fixed(values, bits):
    """Unsigned *values* in *bits* bits each (0..63), least significant bit first, into bytes
    filled from bit 0, the last one padded with zeros (§5.2.1, §5.3.1)."""
    values = np.asarray(values, np.uint64)
    if not bits or not len(values):
        return b""
    planes = (values[:, None] >> np.arange(bits, dtype=np.uint64)) & np.uint64(1)
    return np.packbits(planes.astype(np.uint8).reshape(-1), bitorder="little").tobytes()


def unpack_fixed(raw, start, count, bits):
    """*count* values of *bits* bits each from bit *start* of the uint8 array *raw* (the
    inverse of :func:`pack_fixed`), as uint64."""
    if not bits or not count:
        return np.zeros(count, np.uint64)
    lo, hi = start // 8, -(-(start + count * bits) // 8)
    stream = np.unpackbits(raw[lo:hi], bitorder="little")[start - 8 * lo:start - 8 * lo + count * bits]
    planes = stream.reshape(count, bits).astype(np.uint64)
    return (planes << np.arange(bits, dtype=np.uint64)).sum(axis=1, dtype=np.uint64)


# §5.2.1 the tokenized Names layout: a 0x00 byte (no plain name list starts with one), then
# one template of text and number tokens shared by every name, and each number's column packed
NAMES_TOKENIZED = 0x00
MAX_TOKENS = 32              # tokens in the template (so at most 16 numbers a name)
MAX_NUMBER_DIGITS = 9        # a number token has at most 9 digits (below 10^9)
MAX_COLUMN_BITS = 31
_CHUNK_NAMES = 8192          # names decoded at a time
_TOKEN = re.compile(rb"[0-9]+|[^0-9]+")


def _zigzag(v):
    return 2 * v if v >= 0 else -2 * v - 1


def _unzigzag(u):
    return u >> 1 if not u & 1 else -((u + 1) >> 1)


def names_tokenized(names):
    """The tokenized Names layout (§5.2.1) of *names*, or None when they do not share one
    template (the same text between the same number of digit runs, each run at most 9 digits,
    zero-padded runs of one width per column)."""
    template, columns = None, None
    for name in names:
        tokens = _TOKEN.findall(name.encode("utf-8"))
        shape = [None if t[:1].isdigit() else t for t in tokens]
        if template is None:
            template, columns = shape, [[] for t in shape if t is None]
        elif shape != template:
            return None
        for col, t in zip(columns, (t for t in tokens if t[:1].isdigit())):
            if len(t) > MAX_NUMBER_DIGITS:
                return None
            col.append(t)
    if template is None or len(template) > MAX_TOKENS:
        return None
    out, widths = [bytes([NAMES_TOKENIZED]), write_varint(len(template))], []
    for col in columns:   # a zero-padded column has one width; a column without leading zeros has none
        padded = any(len(t) > 1 and t[:1] == b"0" for t in col)
        if padded and len({len(t) for t in col}) != 1:
            return None
        widths.append(len(col[0]) if padded else 0)
    width = iter(widths)
    for t in template:
        out.append(write_varint(2 * len(t)) + t if t is not None else write_varint(2 * next(width) + 1))
    bits_out = []
    for col in columns:
        values = [int(t) for t in col]
        deltas = [b - a for a, b in zip([0] + values, values)]
        lo, dlo = min(values), min(deltas)
        a_bits = (max(values) - lo).bit_length()
        d_bits = (max(deltas) - dlo).bit_length()
        if d_bits < a_bits:
            out.append(bytes([1 | d_bits << 1]) + write_varint(_zigzag(dlo)))
            bits_out.append((np.array(deltas, np.int64) - dlo, d_bits))
        else:
            out.append(bytes([a_bits << 1]) + write_varint(lo))
            bits_out.append((np.array(values, np.int64) - lo, a_bits))
    if bits_out:
        stream = np.concatenate([np.unpackbits(np.frombuffer(pack_fixed(v, b), np.uint8), bitorder="little")[:len(v) * b]
                                 for v, b in bits_out])
        out.append(np.packbits(stream, bitorder="little").tobytes())
    return b"".join(out)


def _tokenized_to_plain(blob, count, limit=MAX_NAMES_BYTES):
    """The plain Names data (varint lengths + UTF-8) of a tokenized Names layout (§5.2.1);
    its size is known, and checked against *limit*, before it is built."""
    data = memoryview(blob)
    pos = 1
    n_tokens, pos = read_varint(data, pos, "names template token count", MAX_TOKENS)
    if n_tokens == 0:
        raise BadAezFile("names template has no tokens")
    template = []   # bytes of a text token, or the width (0: no leading zeros) of a number token
    for i in range(n_tokens):
        t, pos = read_varint(data, pos, f"names template token {i}", 2 * MAX_NAME + 1)
        if t & 1:
            if t >> 1 > MAX_NUMBER_DIGITS:
                raise BadAezFile(f"names template token {i}: a number of width {t >> 1} (at most {MAX_NUMBER_DIGITS})")
            template.append(t >> 1)
        else:
            if t == 0 or pos + (t >> 1) > len(data):
                raise BadAezFile(f"names template token {i}: a bad text length {t >> 1}")
            template.append(bytes(data[pos:pos + (t >> 1)]))
            pos += t >> 1
    columns = []   # (delta mode, bits, base)
    for i in range(sum(isinstance(t, int) for t in template)):
        if pos >= len(data):
            raise BadAezFile(f"truncated names section: number column {i} has no header")
        mode = data[pos]
        if mode >> 6:
            raise BadAezFile(f"names number column {i}: reserved bits set in its mode 0x{mode:02x}")
        base, pos = read_varint(data, pos + 1, f"names number column {i} base")
        columns.append((mode & 1, mode >> 1, _unzigzag(base) if mode & 1 else base))
    total = count * sum(b for _, b, _ in columns)
    if len(data) - pos != -(-total // 8):
        raise BadAezFile(f"names section: {count} names' numbers take {-(-total // 8)} bytes, "
                         f"{len(data) - pos} left")
    raw = np.frombuffer(data, np.uint8, offset=pos)
    if total % 8 and raw[-1] >> (total % 8):
        raise BadAezFile("names section: padding bits after the last number are not zero")
    widths = [t for t in template if isinstance(t, int)]
    starts = np.cumsum([0] + [count * b for _, b, _ in columns])[:-1].tolist()
    fixed = sum(len(t) for t in template if isinstance(t, bytes))
    powers = 10 ** np.arange(1, MAX_NUMBER_DIGITS, dtype=np.int64)

    def numbers(lo, hi, prev):
        """The number columns of names lo..hi-1, checked; *prev* carries each delta column's
        last value from the chunk before."""
        cols = []
        for j, ((delta, b, base), width) in enumerate(zip(columns, widths)):
            v = unpack_fixed(raw, starts[j] + lo * b, hi - lo, b).astype(np.int64) + base
            if delta:
                v = prev[j] + np.cumsum(v)
                prev[j] = int(v[-1])
            top = 10 ** (width or MAX_NUMBER_DIGITS)
            if v.min() < 0 or v.max() >= top:
                bad = int(v[(v < 0) | (v >= top)][0])
                raise BadAezFile(f"names number column {j}: value {bad} outside 0..{top - 1}")
            cols.append(v)
        return cols

    # pass 1: every name's length, so the plain data's size is known before anything is built
    size, prev = 0, [0] * len(columns)
    for lo in range(0, count, _CHUNK_NAMES):
        hi = min(lo + _CHUNK_NAMES, count)
        lengths = np.full(hi - lo, fixed, np.int64)
        for v, width in zip(numbers(lo, hi, prev), widths):
            lengths += width if width else 1 + (v[:, None] >= powers).sum(axis=1)
        if lengths.min() < 1 or lengths.max() > MAX_NAME:
            i = int(np.argmax((lengths < 1) | (lengths > MAX_NAME)))
            raise BadAezFile(f"name {lo + i} would be {int(lengths[i])} bytes (1 to {MAX_NAME})")
        size += int(lengths.sum()) + int(np.where(lengths < 128, 1, 2).sum())
        if size > limit:
            raise BadAezFile(f"names section decodes to more than {limit} bytes (limit)")
    # pass 2: the names
    out, at, prev = bytearray(size), 0, [0] * len(columns)   # the size pass 1 found, filled in place
    for lo in range(0, count, _CHUNK_NAMES):
        hi = min(lo + _CHUNK_NAMES, count)
        cols = [c.tolist() for c in numbers(lo, hi, prev)]
        piece = []
        for i in range(hi - lo):
            it = iter(c[i] for c in cols)
            name = b"".join(t if isinstance(t, bytes) else b"%0*d" % (t, next(it)) for t in template)
            piece.append(write_varint(len(name)) + name)
        piece = b"".join(piece)
        out[at:at + len(piece)] = piece
        at += len(piece)
    assert at == size
    return memoryview(out)


# §5.3.1 the packed Psnr layout: Base (u8), Bits (u8, 0..7), Image_Count values of Bits bits
PSNR_MAX_BITS = 7


def psnr_packed(values):
    """The packed Psnr layout of *values* (uint8), or None when it is not shorter than the
    plain one (which it must be: a reader tells them apart by the length)."""
    v = np.asarray(values, np.uint8)
    base = int(v.min())
    bits = int(v.max() - base).bit_length()
    if bits > PSNR_MAX_BITS:
        return None
    packed = bytes([base, bits]) + pack_fixed(v.astype(np.uint64) - base, bits)
    return packed if len(packed) < len(v) else None


def parse_psnr(blob, count, what="psnr"):
    """§5.3: *count* bytes as they are, or, when shorter, the packed layout."""
    if len(blob) == count:
        return np.frombuffer(blob, np.uint8)
    if len(blob) > count:
        raise BadAezFile(f"{what} section holds {len(blob)} bytes, header implies {count}")
    if len(blob) < 2:
        raise BadAezFile(f"{what} section holds {len(blob)} bytes: neither {count} values nor a packed layout")
    base, bits = blob[0], blob[1]
    if bits > PSNR_MAX_BITS:
        raise BadAezFile(f"{what} section: packed values of {bits} bits (at most {PSNR_MAX_BITS})")
    want = 2 + -(-count * bits // 8)
    if len(blob) != want:
        raise BadAezFile(f"{what} section holds {len(blob)} bytes; {count} packed values of {bits} bits need {want}")
    raw = np.frombuffer(blob, np.uint8, offset=2)
    if count * bits % 8 and raw[-1] >> (count * bits % 8):
        raise BadAezFile(f"{what} section: padding bits after the last packed value are not zero")
    values = unpack_fixed(raw, 0, count, bits) + np.uint64(base)
    if len(values) and int(values.max()) > 255:
        raise BadAezFile(f"{what} section: packed value {int(values.max())} is above 255")
    return values.astype(np.uint8)


def pack(header: HeaderV2, body, names=None, psnr=None, verdicts=None, raw=None):
    """The bytes of a version 2 file.

    *body* is the Codes or Pixels section, already made with :func:`section`; *raw*, if
    given, is (indices, pixel model digest, section content, zstd-framed content or None).
    """
    h = header
    flags = h.flags & (FLAG_PIXELS | FLAG_JUDGED | FLAG_PREPROCESSED)
    flags |= (FLAG_NAMES if names is not None else 0) | (FLAG_PSNR if psnr is not None else 0)
    flags |= FLAG_VERDICTS if verdicts is not None else 0
    flags |= FLAG_RAW if raw is not None else 0
    if not 0 <= h.level <= LEVEL_MASK or h.source_form not in SOURCE_FORMS:
        raise ValueError(f"level {h.level} or source form {h.source_form} out of range")
    out = [FIXED.pack(MAGIC, FORMAT_VERSION, flags, h.level | h.source_form << FORM_SHIFT, h.model_digest),
           write_varint(h.count)]
    if not h.pixel_mode and h.level == 0:
        t = h.quant_table
        out.append(struct.pack("<BH", t.sample_size, len(t.offsets)))
        out.append(np.column_stack([np.asarray(t.offsets, "<f4"), np.asarray(t.steps, "<f4")]).tobytes())
    out.append(body)
    if names is not None:
        blob, tokens = names_blob(names), names_tokenized(names)
        out.append(smallest(section(blob, zstd_frame(blob)),
                            None if tokens is None else section(tokens, zstd_frame(tokens))))
    if psnr is not None:
        blob = np.asarray(psnr, np.uint8).tobytes()
        packed = psnr_packed(psnr)
        out.append(smallest(section(blob, zstd_frame(blob)), None if packed is None else section(packed)))
    if verdicts is not None:
        blob = np.asarray(verdicts, np.uint8).tobytes()
        out.append(section(blob, zstd_frame(blob)))
    if raw is not None:
        index, digest, content, framed = raw
        index = [int(i) for i in index]
        gaps = [index[0]] + [b - a - 1 for a, b in zip(index, index[1:])]
        head = write_varint(len(index)) + b"".join(write_varint(g) for g in gaps) + digest
        out.append(head + section(content, framed))
    body_bytes = b"".join(out)
    return body_bytes + TRAILER.pack(zlib.crc32(body_bytes))


class FieldReader:
    """Reads fields from a verified file body, turning short reads into BadAezFile, and keeps
    count of what the file and its decoded sections hold (§7).  Version 1's reader adds its
    own sections to it."""

    def __init__(self, data, pos=0, held=0):
        self.data, self.pos = memoryview(data), pos
        self.held = held   # bytes the reader holds so far: the file, then each decoded section

    def hold(self, what, size):
        """§7: the file and its decoded sections together stay within MAX_HELD bytes."""
        self.held += size
        if self.held > MAX_HELD:
            raise BadAezFile(f"{what} section: the file and its decoded sections would take "
                             f"{self.held} bytes, limit {MAX_HELD}")

    def take(self, n, what):
        if self.pos + n > len(self.data):
            raise BadAezFile(f"truncated .aez file: {what} needs {n} bytes at offset {self.pos}, "
                             f"only {len(self.data) - self.pos} left")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def varint(self, what, limit=(1 << 32) - 1):
        value, self.pos = read_varint(self.data, self.pos, what, limit)
        return value

    def section(self, what, expect=None, limit=MAX_SECTION, allow_dict=False):
        """(method, content) of the next section; *expect* is the exact content size if known.

        With *allow_dict* (the Codes section), a dictionary frame (§5.1.1) comes back as
        (DICT_FRAME, the frame with its magic restored), its declared size checked and held:
        :func:`undict` decodes it once the model, and so its dictionary, is known.
        """
        head = self.varint(f"{what} section header", 2 * MAX_SECTION + 1)
        method, length = head & 1, head >> 1
        blob = self.take(length, f"{what} section")
        if method == STORED:
            if expect is not None and length != expect:
                raise BadAezFile(f"{what} section holds {length} bytes, header implies {expect}")
            if length > limit:
                raise BadAezFile(f"{what} section holds {length} bytes, limit {limit}")
            return STORED, blob
        if allow_dict and codedicts.is_dict_frame(blob):
            frame = codedicts.with_magic(blob)
            declared = _checked_params(frame, what, expect, limit).content_size
            self.hold(what, declared)
            return DICT_FRAME, frame
        declared = _declared(blob, what)
        if declared <= limit and expect in (None, declared):   # else unframe says what is wrong
            self.hold(what, declared)
        return ZSTD, unframe(blob, what, expect, limit)


def _declared(frame, what):
    try:
        size = zstandard.get_frame_parameters(frame).content_size
    except zstandard.ZstdError as e:
        raise BadAezFile(f"{what} section is not a zstd frame ({e})") from None
    if size == zstandard.CONTENTSIZE_UNKNOWN or size < 0:
        raise BadAezFile(f"{what} section's zstd frame does not declare its size")
    return size


def _checked_params(frame, what, expect=None, limit=MAX_SECTION):
    """The frame parameters of a section's zstd frame that §3 allows, else BadAezFile."""
    try:
        params = zstandard.get_frame_parameters(frame)
    except zstandard.ZstdError as e:
        raise BadAezFile(f"{what} section is not a zstd frame ({e})") from None
    declared = params.content_size
    if declared == zstandard.CONTENTSIZE_UNKNOWN or declared < 0:
        raise BadAezFile(f"{what} section's zstd frame does not declare its size")
    if params.dict_id:
        raise BadAezFile(f"{what} section's zstd frame names dictionary {params.dict_id} (none is allowed)")
    if expect is not None and declared != expect:
        raise BadAezFile(f"{what} section declares {declared} bytes, header implies {expect}")
    if declared > limit:
        raise BadAezFile(f"{what} section declares {declared} bytes, limit {limit}")
    return params


def unframe(frame, what, expect=None, limit=MAX_SECTION, dict_data=None):
    """Decompress one zstd frame (with *dict_data*: a dictionary frame, §5.1.1, its magic
    restored), checking its declared size before allocating (§5)."""
    declared = _checked_params(frame, what, expect, limit).content_size
    return decompress_bounded(frame, what, declared, 1 << 27, dict_data)


def undict(frame, digest, level, what="codes"):
    """The data of a Codes section's dictionary frame (as :meth:`FieldReader.section` gave it)
    with the code dictionary of (Model_Digest, Level) (§5.1.1, Appendix C)."""
    d = codedicts.dictionary(digest, level) if level else None
    if d is None:
        raise BadAezFile(f"{what} section is a dictionary frame, but no code dictionary is installed for "
                         f"model digest {bytes(digest).hex()} at level {level}")
    return unframe(frame, what, dict_data=d)


def decompress_bounded(frame, what, declared, max_window=None, dict_data=None):
    """The *declared* bytes one zstd frame holds, as a memoryview, decompressed a few hundred
    input bytes at a time into one buffer of the declared size (at most a §7 limit): its
    pages cost memory only once written, so memory follows what the frame really holds, and
    a frame that holds more than it declares is stopped as soon as it passes the size."""
    out = np.empty(declared, np.uint8)   # pages the frame never fills are never touched
    got = 0
    options = {"max_window_size": max_window} if max_window else {}
    if dict_data is not None:
        options["dict_data"] = dict_data
    dobj = zstandard.ZstdDecompressor(**options).decompressobj()
    fed, frame = 0, memoryview(frame)
    try:
        while fed < len(frame) and not dobj.eof:
            chunk = dobj.decompress(frame[fed:fed + _FEED])
            fed += _FEED
            if got + len(chunk) > declared:
                raise BadAezFile(f"{what} section holds more than the {declared} bytes it declares")
            out[got:got + len(chunk)] = np.frombuffer(chunk, np.uint8)
            got += len(chunk)
    except zstandard.ZstdError as e:
        raise BadAezFile(f"{what} section does not decompress ({e})") from None
    if not dobj.eof:
        raise BadAezFile(f"{what} section's zstd frame is incomplete")
    if dobj.unused_data or fed < len(frame):
        raise BadAezFile(f"{what} section has bytes after its zstd frame")
    if got != declared:
        raise BadAezFile(f"{what} section decompressed to {got} bytes, declared {declared}")
    return memoryview(out)


def _header(r: FieldReader):
    magic, version, flags, level_form, digest = FIXED.unpack(r.take(FIXED.size, "fixed header"))
    if flags & ~FLAGS_KNOWN:
        raise BadAezFile(f"reserved flag bits set (flags 0x{flags:02x})")
    level, form = level_form & LEVEL_MASK, level_form >> FORM_SHIFT
    if form not in SOURCE_FORMS:
        raise BadAezFile(f"source form {form} (must be 0, 1 or 2)")
    pixels = bool(flags & FLAG_PIXELS)
    if pixels and level > MAX_ERROR:
        raise BadAezFile(f"max error {level} (must be 0 to {MAX_ERROR})")
    if not pixels and level > MAX_QUALITY:
        raise BadAezFile(f"quality {level} (must be 0 to {MAX_QUALITY})")
    if pixels and flags & FLAG_RAW:
        raise BadAezFile("a pixel-mode archive has a Raw section (only lossy archives may)")
    if flags & FLAG_VERDICTS and not flags & FLAG_JUDGED:
        raise BadAezFile("Verdicts section without the Judged flag")
    if form and flags & FLAG_NAMES:
        raise BadAezFile(f"an archive of one {'IDX' if form == 1 else '.npy'} source has a Names section")
    count = r.varint("image count", MAX_IMAGES)
    if count == 0:
        raise BadAezFile(f"image count 0 outside 1..{MAX_IMAGES}")
    table = None
    if not pixels and level == 0:
        sample_size, dims = struct.unpack("<BH", r.take(3, "quantization table size"))
        if sample_size not in (1, 2) or not 1 <= dims <= MAX_LATENT:
            raise BadAezFile(f"quantization table: sample size {sample_size}, {dims} dimensions")
        if count * dims * sample_size > MAX_SECTION:
            raise BadAezFile(f"{count} images of {dims} codes exceed this decoder's size limits")
        quant = np.frombuffer(r.take(8 * dims, "quantization table"), "<f4").reshape(dims, 2)
        if not np.isfinite(quant).all() or (quant[:, 1] <= 0).any():
            raise BadAezFile("quantization table holds a non-finite value or a step <= 0")
        table = QuantTable(sample_size, tuple(float(v) for v in quant[:, 0]),
                           tuple(float(v) for v in quant[:, 1]))
    return HeaderV2(flags, level, form, digest, count, table)


def parse_header(data, pos=4):
    """The :class:`HeaderV2` of a verified file body and the offset after it."""
    r = FieldReader(data, 0)
    h = _header(r)
    return h, r.pos


def unpack(body, size) -> ArchiveV2:
    """Parse the verified body (checksum removed) of a version 2 file."""
    r = FieldReader(body, 0, size)
    h = _header(r)
    if size > MAX_HELD:
        raise BadAezFile(f"the file is {size} bytes, limit {MAX_HELD}")
    a = ArchiveV2(h, r.section("pixels") if h.pixel_mode else r.section("codes", allow_dict=True), size=size)
    if h.flags & FLAG_NAMES:
        blob = r.section("names", None, MAX_NAMES_BYTES)[1]
        if len(blob) and blob[0] == NAMES_TOKENIZED:
            blob = _tokenized_to_plain(blob, h.count)
            r.hold("names", len(blob))
        a.names = parse_names(blob, h.count)
    if h.flags & FLAG_PSNR:
        a.psnr = parse_psnr(r.section("psnr", None, h.count)[1], h.count)
    if h.flags & FLAG_VERDICTS:
        a.verdicts = np.frombuffer(r.section("verdicts", h.count)[1], np.uint8)
    if h.flags & FLAG_RAW:
        n = r.varint("raw image count", h.count)
        if not 1 <= n <= MAX_RAW:
            raise BadAezFile(f"raw section lists {n} images (1 to {MAX_RAW})")
        index, at = np.empty(n, np.int64), -1
        for i in range(n):
            at += r.varint("raw image index", h.count) + 1
            if at >= h.count:
                raise BadAezFile(f"raw image index {at} is not below the image count {h.count}")
            index[i] = at
        a.raw_index = index
        a.raw_digest = bytes(r.take(8, "raw pixel model digest"))
        a.raw_payload = r.section("raw", n * 28 * 28 if a.raw_digest == PLAIN_PIXELS else None, MAX_RAW_BYTES)
    if r.pos != len(body):
        raise BadAezFile(f"{len(body) - r.pos} unexpected bytes after the last section")
    a.held = r.held
    return a


def parse_names(blob, count):
    """The Names section's *count* names (§5.2) as a :class:`~aezip.names.NameList` over *blob*."""
    return name_list(blob, count, lambda pos, i: read_varint(blob, pos, f"length of name {i}", MAX_NAME))


def name_list(blob, count, read_length):
    """A NameList over *blob* of *count* entries, each a length (``read_length(pos, i)`` ->
    (length, position after it); the layout's own) then that many bytes of UTF-8."""
    starts, ends, pos = np.empty(count, np.uint32), np.empty(count, np.uint32), 0
    for i in range(count):
        n, pos = read_length(pos, i)
        if n == 0 or pos + n > len(blob):
            raise BadAezFile(f"name {i} has a bad length {n}")
        try:
            bytes(blob[pos:pos + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise BadAezFile(f"name {i} is not UTF-8") from None
        starts[i], ends[i] = pos, pos + n
        pos += n
    if pos != len(blob):
        raise BadAezFile(f"names section has {len(blob) - pos} bytes after the last name")
    return NameList(blob, starts, ends)


def pack_bits(values, bits, chunk=4096):
    """Codes (N, D) packed image by image, dimension by dimension, *bits[d]* bits each,
    least significant bit first, into bytes filled from bit 0; the last byte padded with zeros."""
    values = np.asarray(values, np.uint32)
    bits = np.asarray(bits, np.int64)
    keep = np.arange(16)[None, :] < bits[:, None]                                # (D, 16)
    shifts = np.arange(16, dtype=np.uint32)
    stream = np.concatenate([((values[i:i + chunk, :, None] >> shifts) & 1)[:, keep].reshape(-1)
                             for i in range(0, len(values), chunk)]).astype(np.uint8)
    return np.packbits(stream, bitorder="little").tobytes()


def unpack_bits(blob, count, bits, chunk=4096):
    """The inverse of :func:`pack_bits`, a few thousand images at a time; raises BadAezFile
    on a wrong length or non-zero padding bits."""
    bits = np.asarray(bits, np.int64)
    per = int(bits.sum())
    total = count * per
    if len(blob) != -(-total // 8):
        raise BadAezFile(f"codes section holds {len(blob)} bytes; {count} images of "
                         f"{per} bits need {-(-total // 8)}")
    raw = np.frombuffer(blob, np.uint8)
    if total % 8 and raw[-1] >> (total % 8):
        raise BadAezFile("codes section: padding bits after the last code are not zero")
    starts = np.concatenate([[0], np.cumsum(bits)[:-1]])
    out = np.zeros((count, len(bits)), np.uint8 if bits.max(initial=1) <= 8 else np.uint16)
    step = chunk - chunk % 8  # whole bytes per chunk: 8 images always end on a byte boundary
    for lo in range(0, count, step):
        hi = min(lo + step, count)
        stream = np.unpackbits(raw[lo * per // 8:-(-hi * per // 8)], bitorder="little")
        stream = stream[:(hi - lo) * per].reshape(hi - lo, per).astype(np.uint16)
        for d, (b, s) in enumerate(zip(bits, starts)):
            out[lo:hi, d] = stream[:, s:s + b] @ (1 << np.arange(b, dtype=np.uint16))
    return out
