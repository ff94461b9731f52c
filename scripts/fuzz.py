"""Fuzz the .aez reader: a seeded mutation loop over real archives.

    python scripts/fuzz.py --count 100000 --seed 1
    python scripts/fuzz.py --liars             # archives that lie about their size: memory, time
    python scripts/fuzz.py --honest-bomb 100000

Every input goes through ``AezDecompressor.decompress`` (one decompressor,
models loaded once).  The contract checked for each input:

- it returns uint8 images of the shape its header states, or
- it raises ``BadAezFile`` (malformed, damaged, unsupported version), or
- it raises ``UnknownModel``, and only for a file that ``container.unpack``
  accepts (well formed, naming a model that is not installed);

anything else (another exception, a RuntimeWarning turned error, a run
longer than --slow seconds) is counted as unexpected and printed with the
input's seed so it can be replayed (``--replay N``).  The exit status is 1
when anything unexpected happened.

Seeds: format version 2 files (what aezip writes: every flag, names, exact copies, a
custom quantization table, verdicts, and pixel-mode files when this aezip has them) and
version 1 files (still read).  Kinds of input, in turn:
  random       random bytes (sometimes behind the real magic and version 1 or 2)
  flip         1..8 random byte changes of a valid archive, CRC recomputed
  flip-nocrc   the same without fixing the CRC (must fail on the checksum)
  cut          truncate, extend or splice, CRC recomputed
  header       rewrite header fields with hostile values, CRC recomputed (version 2: flags,
               level and form, digest, and the image count as edge-case varints)
  section      take one section's data, mutate it, write it back stored or as a zstd
               frame (sometimes one that lies about its size), lengths and CRC fixed:
               exercises the parsers behind the sections (names, raw, codes, psnr)
  varint       replace one varint (count, a section header, raw count or gap) by an edge
               case: non-minimal, 5 or 6 bytes, 0, limits and one past them
  names        replace the Names section by hostile names (controls, bidi, device names,
               '..', duplicates under NFC + case folding, a file that is also a folder)
  table        a custom quantization table (level 0) with extreme rows (3e38, 1e-45,
               inf, NaN, 0, negative steps), the CRC fixed
  dict         a wrong Codes dictionary frame (§5.1.1): mutated codes (often another
               length) coded with the right dictionary, the codes with another level's
               dictionary, or the frame's own bytes mutated
  tokens       a tokenized Names section (§5.2.1) of names that share a template but
               collide, overflow their width or number too few or too many, often with a
               few bytes mutated
"""

import argparse
import resource
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aezip  # noqa: E402
from aezip import archive, codedicts, container, container_v2 as v2  # noqa: E402
from aezip.errors import BadAezFile, UnknownModel  # noqa: E402
from aezip.idx import read_idx  # noqa: E402

KINDS = ["random", "flip", "flip-nocrc", "cut", "header", "section", "varint", "names", "table", "dict", "tokens"]
# (offset, struct format) of the fixed-header fields worth lying about
FIELDS = [(5, "<B"), (6, "<B"), (7, "<B"), (8, "<Q"), (16, "<I"), (20, "<H"), (22, "<H"),
          (24, "<H"), (26, "<B"), (27, "<B")]
FIELDS_V2 = [(5, "<B"), (6, "<B"), (7, "<Q")]
HOSTILE = [0, 1, 2, 3, 255, 256, 0xFFFF, 0x10000, 1_000_000, 1_000_001, 0x7FFFFFFF, 0xFFFFFFFF]
# varint edge cases (§3): minimal values at the limits and past them, non-minimal and over-long
HOSTILE_VARINTS = [b"\x00", b"\x01", b"\x7f", b"\x80\x00", b"\x80\x80\x00", b"\xff\xff\xff\xff\x0f",
                   b"\xff\xff\xff\xff\x7f", b"\x80\x80\x80\x80\x80\x01", b"\xff", b"\xc0\x84\x3d",
                   b"\xc1\x84\x3d", v2.write_varint(65_536), v2.write_varint(65_537), v2.write_varint(1 << 27),
                   v2.write_varint(2 * (1 << 27) + 1), v2.write_varint(2 * (1 << 30) + 1), v2.write_varint(1024),
                   v2.write_varint(1025)]
HOSTILE_NAMES = ["../up.png", "/abs.png", "C:x.png", "a\\b.png", "ctrl\x07.png", "del\x7f.png", "c1\x85.png",
                 "rlo\u202egnp.exe", "zw\u200b.png", "CON.png", "nul", "com1.txt", "trail. ", "dot.", "a//b.png",
                 "./a.png", "\ufeffbom.png", "line\u2028.png", "E\u0301.png", "x" * 256 + ".png",
                 "/".join(["d"] * 65), "\udcff.png", ""]
EXTREME_FLOATS = [3e38, -3e38, 1e-45, -1e-45, 0.0, -0.0, 1e30, -1e30, float("inf"), float("-inf"), float("nan"),
                  1.0, -1.0, 65504.0, 1e-30]


def has_pixel_mode():
    import inspect
    return "lossless" in inspect.signature(aezip.compress).parameters


def seed_archives():
    """Valid archives covering every flag and both sample sizes: version 2 files (lossy at
    several levels, names, exact copies, verdicts, a custom table, IDX and .npy sources, pixel
    mode when this aezip has it) and version 1 files."""
    x = read_idx(REPO / "samples" / "t10k-first100-idx3-ubyte.gz")
    names = [f"d{i % 3}/{i:03d}.png" for i in range(12)]
    noise = np.random.default_rng(0).integers(0, 256, (4, 28, 28), dtype=np.uint8)
    seeds = [
        aezip.compress(x[:12]),
        aezip.compress(x[:12], names=names),
        aezip.compress(x[:12], names=names, min_psnr=20),
        aezip.compress(x[:3], quality=9, min_psnr=18),
        aezip.AezCompressor(1, store_psnr=False).compress(x[:1]),
        aezip.AezCompressor(5).compress(x[:40], source_form=container.SOURCE_IDX),
        aezip.AezCompressor(3).compress(x[:5], source_form=container.SOURCE_NPY),
        aezip.AezCompressor(5, step=0.9).compress(x[:6]),                  # level 0: a stored table
        aezip.AezCompressor(5, step=0.01).compress(x[:2]),                 # a 2-byte custom table
        aezip.compress(np.concatenate([x[:4], noise]), names=[f"{i}.png" for i in range(8)]),  # verdicts
        aezip.compress(x[:30], names=[f"{i % 10}/{3 * i:05d}.png" for i in range(30)]),  # like samples/digits
        aezip.compress(x[:1], quality=9, names=["d.png"]),
    ]
    if has_pixel_mode():
        seeds += [aezip.compress(x[:6], lossless=True), aezip.compress(x[:2], names=["a.png", "b/c.png"], lossless=True)]
    seeds += [_v1_seed(x[:12], names), _v1_seed(x[:3], None)]
    return seeds


def _v1_seed(images, names):
    """A version 1 file (Appendix B) as aezip wrote them until 2026-12-01."""
    from aezip.codec import AezCompressor, psnr_bytes
    comp = AezCompressor(5, model="mlp9", judge=False)
    codes, scores = comp.encode(images)
    g, m = comp.grid, comp.model
    head = container.Header(1, 0, 5, g.sample_size, m.file_digest, m.name, len(codes), 28, 28, m.latent_dim,
                            tuple(g.offsets.tolist()), tuple(g.steps.tolist()))
    raw = np.flatnonzero(scores < 18)
    return container.pack(head, codes, names=names, psnr=psnr_bytes(scores),
                          raw_index=raw if len(raw) else None, raw_pixels=images[raw] if len(raw) else None)


def layout(data):
    """Where a seed's parts are: ('v1', section spans) or ('v2', section layout, varint spans)."""
    if data[4] == 1:
        return ("v1", archive.section_spans(data))
    return ("v2", archive.section_layout(data), _varints(data))


def _varints(data):
    """(start, end) of each varint of a well-formed version 2 file: the count, each section
    header, the raw count and gaps."""
    c = archive.read(data)
    pos = v2.FIXED.size
    _, end = v2.read_varint(data, pos, "count")
    spans = [(pos, end)]
    for head, start, _, _ in archive.section_layout(data):
        spans.append((head, start))
    if len(c.raw_index):   # the raw count and gaps: after the section before Raw
        p = archive.section_layout(data)[-2][2]
        for _ in range(len(c.raw_index) + 1):
            _, q = v2.read_varint(data, p, "raw")
            spans.append((p, q))
            p = q
    return spans


def fix_crc(body):
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def mutate_bytes(rng, b, k):
    b = bytearray(b)
    for _ in range(k):
        op = rng.integers(4)
        i = int(rng.integers(len(b))) if b else 0
        if op == 0 and b:
            b[i] = int(rng.integers(256))
        elif op == 1 and b:
            b[i] ^= 1 << int(rng.integers(8))
        elif op == 2:
            b[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8))
        elif b:
            del b[i:i + int(rng.integers(1, 9))]
    return bytes(b)


def make_input(rng, kind, seeds, spans):
    j = int(rng.integers(len(seeds)))
    src = seeds[j]
    if kind in ("varint", "names", "table", "dict", "tokens") or (kind in ("header", "section") and spans[j][0] == "v2"):
        v2_seeds = [i for i in range(len(seeds)) if spans[i][0] == "v2"]
        if kind == "table":
            v2_seeds = [i for i in v2_seeds if seeds[i][6] & v2.LEVEL_MASK == 0 and not seeds[i][5] & v2.FLAG_PIXELS]
        elif kind == "dict":
            v2_seeds = [i for i in v2_seeds if has_dict_frame(seeds[i])]
        elif kind == "tokens":
            v2_seeds = [i for i in v2_seeds if seeds[i][5] & v2.FLAG_NAMES]
        j = v2_seeds[int(rng.integers(len(v2_seeds)))]
        return make_v2_input(rng, kind, seeds[j], spans[j])
    if kind == "random":
        n = int(rng.integers(0, 400))
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        if rng.random() < 0.5:
            data = container.MAGIC + bytes([1 + int(rng.integers(2))]) + data
        return fix_crc(data) if rng.random() < 0.5 else data
    if kind in ("flip", "flip-nocrc"):
        body = bytearray(src[:-4])
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(5, len(body)))   # keep magic+version: reach the parser
            body[i] = (body[i] + int(rng.integers(1, 256))) % 256   # always a different value
        return fix_crc(body) if kind == "flip" else bytes(body) + src[-4:]
    if kind == "cut":
        body = src[:-4]
        op = rng.integers(3)
        if op == 0:
            body = body[:int(rng.integers(len(body)))]
        elif op == 1:
            body = body + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
        else:
            a = int(rng.integers(0, len(body) - 1))
            b = int(rng.integers(a + 1, len(body)))
            body = body[:a] + body[b:] if rng.random() < 0.5 else body[:b] + body[a:]
        return fix_crc(body)
    if kind == "header":
        body = bytearray(src[:-4])
        for _ in range(int(rng.integers(1, 3))):
            off, fmt = FIELDS[int(rng.integers(len(FIELDS)))]
            top = 1 << (8 * struct.calcsize(fmt))
            v = int(HOSTILE[int(rng.integers(len(HOSTILE)))] % top) if rng.random() < 0.7 \
                else int(rng.integers(0, min(top, 1 << 62)))
            struct.pack_into(fmt, body, off, v)
        return fix_crc(body)
    # section: mutate the plain bytes behind one zstd frame and re-frame them (version 1)
    a, b = spans[j][1][int(rng.integers(len(spans[j][1])))]
    plain = zstandard.ZstdDecompressor().decompress(src[a:b])
    plain = mutate_bytes(rng, plain, int(rng.integers(1, 5)))
    # now and then a frame that does not declare its size, or carries a checksum
    frame = zstandard.ZstdCompressor(level=1, write_content_size=rng.random() > 0.1,
                                     write_checksum=rng.random() < 0.2).compress(plain)
    length = len(frame) if rng.random() < 0.9 else int(rng.integers(0, 2 * len(frame) + 8))
    body = src[:a - 4] + struct.pack("<I", length) + frame + src[b:-4]
    return fix_crc(body)


def make_v2_input(rng, kind, src, where):
    """One hostile input made from the version 2 seed *src* (see the kinds above)."""
    _, sections, varints = where
    if kind == "header":
        body = bytearray(src[:-4])
        for _ in range(int(rng.integers(1, 3))):
            if rng.random() < 0.3:   # the image count
                a, b = varints[0]
                body[a:b] = HOSTILE_VARINTS[int(rng.integers(len(HOSTILE_VARINTS)))] if rng.random() < 0.5 \
                    else v2.write_varint(int(HOSTILE[int(rng.integers(len(HOSTILE)))]))
                continue
            off, fmt = FIELDS_V2[int(rng.integers(len(FIELDS_V2)))]
            top = 1 << (8 * struct.calcsize(fmt))
            v = int(HOSTILE[int(rng.integers(len(HOSTILE)))] % top) if rng.random() < 0.5 \
                else int(rng.integers(0, min(top, 1 << 62)))
            struct.pack_into(fmt, body, off, v)
        return fix_crc(body)
    if kind == "varint":
        a, b = varints[int(rng.integers(len(varints)))]
        new = HOSTILE_VARINTS[int(rng.integers(len(HOSTILE_VARINTS)))]
        return fix_crc(src[:a] + new + src[b:-4])
    if kind == "table":
        body = bytearray(src[:-4])
        _, end = v2.read_varint(src, v2.FIXED.size, "count")
        dims = struct.unpack_from("<H", src, end + 1)[0]
        if rng.random() < 0.2:   # the table's own header: sample size, dimension count
            struct.pack_into("<BH", body, end, int(rng.integers(0, 4)), int(HOSTILE[int(rng.integers(len(HOSTILE)))]) % 65536)
        for _ in range(int(rng.integers(1, 4))):
            d, part = int(rng.integers(dims)), int(rng.integers(2))
            v = EXTREME_FLOATS[int(rng.integers(len(EXTREME_FLOATS)))] if rng.random() < 0.7 \
                else float(np.float32(rng.normal(0, 10.0 ** int(rng.integers(-3, 6)))))
            struct.pack_into("<f", body, end + 3 + 8 * d + 4 * part, v)
        return fix_crc(body)
    if kind == "dict":
        return _dict_input(rng, src)
    if kind == "tokens":
        return _tokens_input(rng, src)
    if kind == "names":
        if not src[5] & v2.FLAG_NAMES:
            return make_v2_input(rng, "section", src, where)
        index = 1   # the Names section follows Codes (or Pixels)
        count = archive.read(src).count
        names = [f"{i}.png" for i in range(count)]
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(count))
            pick = rng.random()
            if pick < 0.6:
                names[i] = HOSTILE_NAMES[int(rng.integers(len(HOSTILE_NAMES)))]
            elif pick < 0.8:
                names[i] = names[(i + 1) % count].upper() if count > 1 else "A.PNG"
            else:
                names[i] = names[(i + 1) % count] + "/x.png" if count > 1 else "a/b.png"
        blob = b"".join(v2.write_varint(len(b)) + b
                        for b in (n.encode("utf-8", "surrogatepass") for n in names))
        return _resection(rng, src, index, blob)
    # section: the data of one section, mutated, written back stored or as a zstd frame
    index = int(rng.integers(len(sections)))
    plain = archive.section_data(src, index)
    plain = mutate_bytes(rng, plain, int(rng.integers(1, 5))) if rng.random() < 0.9 else plain
    return _resection(rng, src, index, plain)


def has_dict_frame(data):
    """Whether a version 2 file's Codes section is a dictionary frame (§5.1.1)."""
    _, start, end, method = archive.section_layout(data)[0]
    return method == v2.ZSTD and codedicts.is_dict_frame(data[start:end])


def _dict_input(rng, src):
    """A Codes dictionary frame (§5.1.1) that is wrong: built from mutated codes (often of
    another length), with another level's dictionary, or with its own bytes mutated."""
    h = archive.read(src)._v2.header
    plain = archive.section_data(src, 0)
    pick = rng.random()
    if pick < 0.4:
        frame = codedicts.dict_frame(mutate_bytes(rng, plain, int(rng.integers(1, 4))), h.model_digest, h.level)
    elif pick < 0.6:
        other = [e for k, e in sorted(codedicts.manifest().items()) if k != codedicts.key(h.model_digest, h.level)]
        e = other[int(rng.integers(len(other)))]
        frame = codedicts.dict_frame(plain, bytes.fromhex(e["model_digest"]), e["level"])
    else:
        frame = None
    if frame is None:   # also when the level has no dictionary
        _, start, end, _ = archive.section_layout(src)[0]
        frame = mutate_bytes(rng, src[start:end], int(rng.integers(1, 4)))
    return archive.replace_section(src, 0, frame, v2.ZSTD)


def _tokens_input(rng, src):
    """A tokenized Names section (§5.2.1) that is wrong: the layout of names that share a
    template but collide, overflow or count wrong, then often with a few bytes mutated."""
    count = archive.read(src).count
    n = count if rng.random() < 0.8 else int(rng.integers(0, 2 * count + 2))
    width = int(rng.integers(1, 10))
    top = min(10 ** width, 1 << 31)
    values = rng.integers(0, top, n) if rng.random() < 0.5 else np.arange(n) * int(rng.integers(0, 3))
    dirs = rng.integers(0, int(rng.integers(1, 12)), n)
    names = [f"{d}/{v:0{width}d}.png" for d, v in zip(dirs, values)] or ["0/0.png"]
    blob = v2.names_tokenized(names) or v2.names_blob(names)
    if rng.random() < 0.6:
        blob = blob[:1] + mutate_bytes(rng, blob[1:], int(rng.integers(1, 4)))
    return _resection(rng, src, 1, blob)


def _resection(rng, src, index, plain):
    """*src* with section *index* holding *plain*, stored or zstd (now and then a frame that
    does not declare its size, declares a wrong one, or carries a checksum)."""
    if rng.random() < 0.4:
        return archive.replace_section(src, index, plain, v2.STORED)
    pick = rng.random()
    if pick < 0.1:
        framed = _lying_frame(int(rng.choice([len(plain) + 1, max(len(plain) - 1, 0), 1 << 26, 1 << 27,
                                               (1 << 27) + 1, 3 << 26, 1 << 40])), plain)
    else:
        framed = zstandard.ZstdCompressor(level=1, write_content_size=pick > 0.15,
                                          write_checksum=rng.random() < 0.2).compress(plain)
    return archive.replace_section(src, index, framed, v2.ZSTD)


def check(dec, data):
    """'ok', 'bad', 'unknown-model', or 'UNEXPECTED: ...' for one input."""
    try:
        images = dec.decompress(data)
    except UnknownModel as e:
        try:
            archive.read(data)
        except Exception as e2:  # noqa: BLE001
            return f"UNEXPECTED: UnknownModel for a malformed file ({e2!r}): {e}"
        return "unknown-model"
    except BadAezFile:
        return "bad"
    except Exception as e:  # noqa: BLE001
        return f"UNEXPECTED: {type(e).__name__}: {e}"
    h = archive.read(data)
    if images.dtype != np.uint8 or images.shape != (h.count, h.height, h.width):
        return f"UNEXPECTED: decoded {images.dtype} {images.shape} for a header of {h.count} images"
    return "ok"



# ---- archives that lie about their size (tests/test_trust_hostile_archives.py) ------

def _hand_built(count, height=28, width=28, latent=9, sample=1, frame=None, flags=0, tail=b"",
                length=None):
    """A small file with a valid CRC whose header claims what we like."""
    body = container.FIXED.pack(container.MAGIC, 1, flags, 5, sample, b"\x11" * 8, count, height, width,
                                latent, 4, 0) + b"mlp9" + struct.pack("<ff", 0.0, 1.0) * min(latent, 9)
    if frame is None:
        frame = zstandard.ZstdCompressor().compress(b"\x00" * 9)
    body += struct.pack("<I", len(frame) if length is None else length) + frame + tail
    return body + struct.pack("<I", zlib.crc32(body))


def _lying_frame(declared, content):
    """A zstd frame whose header declares *declared* bytes but which holds *content*."""
    real = zstandard.ZstdCompressor(write_content_size=False).compress(content)
    assert zstandard.get_frame_parameters(real).content_size == zstandard.CONTENTSIZE_UNKNOWN
    # rebuild the frame header: magic, descriptor with an 8-byte content size field
    magic, fhd = real[:4], real[4]
    window = real[5:6] if not fhd & 0x20 else b""
    rest = real[5 + len(window):]
    fhd = (fhd & 0x3F) | 0xC0          # Frame_Content_Size_flag = 3: 8 bytes
    return magic + bytes([fhd]) + window + struct.pack("<Q", declared) + rest


def _sec(frame):
    return struct.pack("<I", len(frame)) + frame


def _v2_liar(count, codes=None, *, level=5, flags=0, tail=b"", table=b""):
    """A small version 2 file with a valid CRC whose sections claim what we like."""
    from aezip.zoo import get_codec_model, ladder_row
    digest = get_codec_model(ladder_row(level or 5)[0]).digest
    if codes is None:
        codes = v2.write_varint(2 * 9 + v2.ZSTD) + _lying_frame(count * 32, bytes(9))[:9]
    body = v2.FIXED.pack(v2.MAGIC, 2, flags, level, digest) + v2.write_varint(count) + table + codes + tail
    return body + struct.pack("<I", zlib.crc32(body))


def _zsec(frame):
    return v2.write_varint(2 * len(frame) + v2.ZSTD) + frame


def liars_v2():
    """Version 2 files that claim past §7 or past what they hold."""
    zeros = _zsec(zstandard.ZstdCompressor(level=3).compress(bytes(32_000_000)))   # honest 10^6 x 32 codes
    rle_names = _zsec(_lying_frame(1_026_000_000, b"\x01a"))
    return {
        "v2: count varint 2^32-1": _v2_liar(0xFFFFFFFF, zeros),
        "v2: codes frame declares 32 MB, holds 9 bytes": _v2_liar(1_000_000, _zsec(_lying_frame(32_000_000, bytes(9)))),
        "v2: codes frame declares 2^30": _v2_liar(1_000_000, _zsec(_lying_frame(1 << 30, bytes(9)))),
        "v2: stored codes section claims 2^31 bytes": _v2_liar(1, v2.write_varint(1 << 32)),
        "v2: level-0 table, 4096 dims x 10^6 images": _v2_liar(
            1_000_000, zeros, level=0, table=struct.pack("<BH", 1, 4096) + struct.pack("<ff", 0, 1) * 4096),
        "v2: names frame declares 10^6 x 1,026 bytes": _v2_liar(1_000_000, zeros, flags=v2.FLAG_NAMES, tail=rle_names),
        "v2: names frame declares 64 MiB, holds 3 bytes": _v2_liar(
            1_000_000, zeros, flags=v2.FLAG_NAMES, tail=_zsec(_lying_frame(1 << 26, b"\x01a"))),
        "v2: raw section lists 10^6 copies": _v2_liar(
            1_000_000, zeros, flags=v2.FLAG_RAW,
            tail=v2.write_varint(1_000_000) + b"\x00" * 1_000_000 + bytes(8) + _zsec(_lying_frame(784_000_000, bytes(9)))),
        "v2: raw frame declares 784 MB for 1 copy": _v2_liar(
            1_000_000, zeros, flags=v2.FLAG_RAW,
            tail=b"\x01\x00" + bytes(8) + _zsec(_lying_frame(784_000_000, bytes(9)))),
        "v2: psnr frame declares 1 MB, holds 3 bytes": _v2_liar(
            1_000_000, zeros, flags=v2.FLAG_PSNR, tail=_zsec(_lying_frame(1_000_000, b"abc"))),
        "v2: codes 128 MB + names 64 MiB declared (past 192 MiB held)": _v2_liar(
            1_000_000, _zsec(zstandard.ZstdCompressor(level=3).compress(bytes(128_000_000))), level=9,
            flags=v2.FLAG_NAMES,
            tail=_zsec(_lying_frame(1 << 26, b"\x01a"))),
    }


def liars():
    """{what it claims: file bytes}: small files, valid CRC, claims their content cannot back
    (version 1, then version 2)."""
    return {**liars_v1(), **liars_v2()}


def liars_v1():
    zeros = zstandard.ZstdCompressor(level=3).compress(bytes(9_000_000))  # honest 9 MB of codes
    return {
        "4 billion images": _hand_built(0xFFFFFFFF),
        "a million images, 9-byte codes": _hand_built(1_000_000),
        "65535x65535 pixels": _hand_built(1, 65535, 65535),
        "65535 code values": _hand_built(1, latent=65535),
        "section length 4 GiB": _hand_built(1, length=0xFFFFFFFF),
        "codes frame declares 9 MB, holds 9 bytes": _hand_built(
            1_000_000, frame=_lying_frame(9_000_000, b"\x00" * 9)),
        "names frame declares 4 GB, holds 3 bytes": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_NAMES,
            tail=_sec(_lying_frame(4_000_000_000, b"\x01\x00a"))),
        "names frame declares 4.1 GB (over the limit)": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_NAMES,
            tail=_sec(_lying_frame(4_100_000_000, b"\x01\x00a"))),
        "raw section claims a million images": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_RAW,
            tail=_sec(_lying_frame(4 + 1_000_000 * 788, struct.pack("<II", 1_000_000, 0)))),
        "psnr frame declares 1 MB, holds 3 bytes": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_PSNR, tail=_sec(_lying_frame(1_000_000, b"abc"))),
    }


MEMORY_PROBE = r"""
import json, resource, sys, time, tracemalloc
def peak_mb():
    # VmHWM: this process image's peak RSS (ru_maxrss can carry the forking parent's
    # peak across exec on Linux); ru_maxrss where /proc is missing
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.path.insert(0, sys.argv[1])
import aezip
from aezip.errors import BadAezFile
files = json.loads(sys.stdin.read())
dec = aezip.AezDecompressor()
base = peak_mb()
tracemalloc.start()
out = {"results": {}, "ms": {}}
for name, hexdata in files.items():
    data = bytes.fromhex(hexdata)
    t = time.perf_counter()
    try:
        dec.decompress(data)
        out["results"][name] = "accepted"
    except BadAezFile as e:
        out["results"][name] = "refused"
    out["ms"][name] = 1e3 * (time.perf_counter() - t)
out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
out["peak_rss_mb"] = peak_mb()
out["base_mb"] = base
print(json.dumps(out))
"""


def probe_memory(files):
    """Decompress each of {name: bytes} in one fresh process; its results and peak memory."""
    import json
    import subprocess
    res = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(REPO)],
                         input=json.dumps({k: v.hex() for k, v in files.items()}),
                         capture_output=True, text=True, timeout=300)
    if res.returncode:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout)


def report_liars():
    """One fresh process per lying archive: result, time, peak RSS."""
    print(f"{'archive':<46} {'bytes':>6} {'result':>8} {'ms':>7} {'peak RSS':>9} {'traced':>8}")
    worst = 0.0
    for name, data in liars().items():
        out = probe_memory({name: data})
        worst = max(worst, out["peak_rss_mb"])
        print(f"{name:<46} {len(data):>6} {out['results'][name]:>8} {out['ms'][name]:>7.2f} "
              f"{out['peak_rss_mb']:>6.0f} MiB {out['traced_peak_mb']:>5.1f} MiB")
    print(f"baseline (interpreter, numpy, zstandard, no archive): {out['base_mb']:.0f} MiB; worst peak {worst:.0f} MiB")
    return 0 if worst < 300 else 1   # formats/aez.md §7: every command within 300 MB


def report_honest_bomb(n):
    """A well-formed version 2 archive of n identical images: tiny file, large (bounded) output."""
    sys.path.insert(0, str(REPO / "scripts"))
    import hostile
    data = hostile.v2_file(n, hostile.zero_codes(n), psnr=hostile.zstd(hostile.frame(bytes(n))))
    out = probe_memory({"bomb": data})
    print(f"{n} identical images: {len(data)}-byte file, {out['results']['bomb']} in {out['ms']['bomb']:.0f} ms, "
          f"peak RSS {out['peak_rss_mb']:.0f} MiB (decoded images alone: {n * 784 / 2**20:.0f} MiB)")
    return 0

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs to try")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slow", type=float, default=1.0, help="seconds after which one input counts as a hang")
    ap.add_argument("--replay", type=int, default=None, help="run only input number N and show it")
    ap.add_argument("--liars", action="store_true",
                    help="instead: time and peak memory of archives that lie about their size")
    ap.add_argument("--honest-bomb", type=int, metavar="N",
                    help="instead: peak memory of a well-formed archive of N identical images")
    args = ap.parse_args(argv)
    if args.liars:
        return report_liars()
    if args.honest_bomb:
        return report_honest_bomb(args.honest_bomb)

    warnings.simplefilter("error")   # a RuntimeWarning from numpy (overflow, NaN cast) is a finding
    seeds = seed_archives()
    spans = [layout(s) for s in seeds]
    dec = aezip.AezDecompressor()
    for s in seeds:
        assert check(dec, s) == "ok"
    tally = {k: {} for k in KINDS}
    unexpected, slowest, slowest_n = [], 0.0, None
    start = time.perf_counter()
    todo = [args.replay] if args.replay is not None else range(args.count)
    for n in todo:
        rng = np.random.default_rng([args.seed, n])
        kind = KINDS[n % len(KINDS)]
        data = make_input(rng, kind, seeds, spans)
        t = time.perf_counter()
        got = check(dec, data)
        dt = time.perf_counter() - t
        if kind == "flip-nocrc" and got != "bad" and data not in seeds:
            got = "UNEXPECTED: a changed file passed the checksum"
        if dt > slowest:
            slowest, slowest_n = dt, n
        if dt > args.slow:
            got = f"UNEXPECTED: took {dt:.2f} s"
        if args.replay is not None:
            print(f"input {n} ({kind}, {len(data)} bytes): {got}\n{data.hex()}")
        key = got if not got.startswith("UNEXPECTED") else "UNEXPECTED"
        tally[kind][key] = tally[kind].get(key, 0) + 1
        if got.startswith("UNEXPECTED"):
            unexpected.append((n, kind, got))
            if len(unexpected) <= 20:
                print(f"input {n} ({kind}): {got}", file=sys.stderr)
    wall = time.perf_counter() - start
    total = sum(sum(v.values()) for v in tally.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{total} inputs, seed {args.seed}, {wall:.1f} s ({1e6 * wall / max(total, 1):.0f} us/input), "
          f"slowest {1e3 * slowest:.1f} ms (input {slowest_n}), peak RSS {peak:.0f} MiB")
    print(f"{'kind':<12} {'inputs':>8} {'ok':>8} {'bad':>8} {'unknown':>8} {'UNEXPECTED':>10}")
    for kind, t in tally.items():
        print(f"{kind:<12} {sum(t.values()):>8} {t.get('ok', 0):>8} {t.get('bad', 0):>8} "
              f"{t.get('unknown-model', 0):>8} {t.get('UNEXPECTED', 0):>10}")
    print(f"unexpected: {len(unexpected)}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
