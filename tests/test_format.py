"""The test vectors in formats/vectors decode as formats/aez.md says."""

import hashlib
import io
import json
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

import aezip
from aezip import archive

VECTORS = Path(__file__).resolve().parent.parent / "formats" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())
SPEC_TEXT = (VECTORS.parent / "aez.md").read_text()
SPEC_EXTRAS = {}   # the names and Psnr values the spec-only decoder read from the last file


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_valid_vector_decodes_to_expected(name):
    got = aezip.decompress((VECTORS / f"{name}.aez").read_bytes())
    want = np.load(VECTORS / f"{name}.expected.npy", allow_pickle=False)
    assert got.shape == want.shape and got.dtype == np.uint8
    # float32 rounding may move a pixel by one gray level on another machine, never more
    assert np.abs(got.astype(int) - want.astype(int)).max() <= 1


@pytest.mark.parametrize("name", sorted(MANIFEST["invalid"]))
def test_invalid_vector_is_rejected_with_its_message(name):
    with pytest.raises(aezip.BadAezFile, match=MANIFEST["invalid"][name].replace(".", r"\.")):
        aezip.decompress((VECTORS / f"{name}.aez").read_bytes())


def test_one_seven_header_matches_the_spec_dump():
    data = (VECTORS / "one-seven.aez").read_bytes()
    assert data[:4] == b"\xaeAEZ" and data[4] == 2
    assert (data[5], data[6] & 0x3F, data[6] >> 6, data[15]) == (0x23, 5, 0, 1)   # names + psnr + judged, q5, 1 image
    assert len(data) <= 64                                                         # issue 13's budget
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    spec = (VECTORS.parent / "aez.md").read_text()
    assert f"Checksum = CRC-32 0x{zlib.crc32(data[:-4]):08x}" in spec


# ---- an independent decoder: formats/aez.md and numpy only, no aezip code -----------------

TRAINED = Path(__file__).resolve().parent.parent / "trained"


def _spec_weights(digest):
    """(meta, arrays) of the model whose digest starts with *digest* (Appendix A): the file's
    SHA-256 (version 1) or the canonical digest (version 2), computed here from the spec."""
    for path in sorted(TRAINED.glob("*.npz")):
        blob = path.read_bytes()
        with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
            arrays = {k: npz[k].astype(np.float32) if npz[k].dtype == np.float16 else npz[k] for k in npz.files}
        if "meta.json" not in arrays:   # the pixel model: its own layout (formats/aez.md §5.7)
            continue
        meta = json.loads(arrays.pop("meta.json").tobytes().decode())
        if "decoder" not in meta:   # the digit classifier: no archive names it
            continue
        if digest in (hashlib.sha256(blob).digest()[:8], _spec_canonical(meta, arrays)[:8]):
            return meta, arrays
    pytest.fail(f"no weights in {TRAINED} with digest {digest.hex()}")


def _spec_canonical(meta, arrays):
    h = hashlib.sha256(b"aezip model v2\n")
    doc = {k: meta.get(k) for k in ("calibration", "decoder", "latent_dim", "output_shape", "task")}
    h.update(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    for p in sorted({op["param"] for op in meta["decoder"] if "param" in op}):
        for name in (p + ".weight", p + ".bias"):
            a = np.ascontiguousarray(arrays[name], "<f4")
            h.update(b"\n" + name.encode() + struct.pack(f"<B{a.ndim}I", a.ndim, *a.shape) + a.tobytes())
    return h.digest()


def _spec_decoder(ops, arrays, z):
    """Appendix A's ops, as PyTorch defines them, in plain float32 numpy (the MLP ones)."""
    x = z.astype(np.float32)
    for op in ops:
        kind = op["op"]
        if kind == "linear":
            x = x @ arrays[op["param"] + ".weight"].T + arrays[op["param"] + ".bias"]
        elif kind == "relu":
            x = np.maximum(x, np.float32(0))
        elif kind == "sigmoid":
            with np.errstate(over="ignore"):
                x = np.float32(1) / (np.float32(1) + np.exp(-x))
        elif kind in ("flatten", "reshape"):
            x = x.reshape((len(x), -1) if kind == "flatten" else (len(x), *op["shape"]))
        else:
            pytest.fail(f"op {kind!r}: this independent decoder implements only the MLP ops")
    return x


def _spec_sections(data, pos):
    """[(Section_Length, decompressed bytes)] from *pos* to the checksum (§5)."""
    out = []
    while pos < len(data) - 4:
        (n,) = struct.unpack_from("<I", data, pos)
        out.append(zstandard.ZstdDecompressor().decompress(data[pos + 4:pos + 4 + n]))
        pos += 4 + n
    assert pos == len(data) - 4
    return out


def spec_decode(data):
    """Decode an .aez file of either version from formats/aez.md alone."""
    assert data[:4] == b"\xaeAEZ" and zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]   # §6
    return (spec_decode_v1 if data[4] == 1 else spec_decode_v2)(data)


def spec_decode_v1(data):
    """Appendix B: header, quant table, sections, model."""
    flags, sample = data[5], data[7]
    digest = data[8:16]
    count, height, width, latent, nlen = struct.unpack_from("<IHHHB", data, 16)        # B.4.1
    pos = 28 + nlen
    quant = np.frombuffer(data, "<f4", 2 * latent, pos).reshape(latent, 2)              # B.4.3
    sections = _spec_sections(data, pos + 8 * latent)
    codes = np.frombuffer(sections[0], "<u1" if sample == 1 else "<u2")                 # B.5.1
    z = quant[:, 0] + codes.reshape(latent, count).T.astype(np.float32) * quant[:, 1]
    meta, arrays = _spec_weights(digest)
    y = _spec_decoder(meta["decoder"], arrays, z)
    pixels = np.clip(np.rint(y * np.float32(255)), 0, 255).astype(np.uint8).reshape(count, height, width)
    if flags & 0x04:                                                                    # B.5.4
        raw = sections[-1]
        (k,) = struct.unpack_from("<I", raw)
        index = np.frombuffer(raw, "<u4", k, 4)
        pixels[index] = np.frombuffer(raw, np.uint8, k * height * width, 4 + 4 * k).reshape(k, height, width)
    return pixels


def _varint(data, pos):                                                                 # §3
    value = shift = 0
    while True:
        b = data[pos]
        value |= (b & 0x7F) << shift
        pos, shift = pos + 1, shift + 7
        if not b & 0x80:
            return value, pos


def _section(data, pos, code_dict=None):                                                # §3
    head, pos = _varint(data, pos)
    blob = data[pos:pos + (head >> 1)]
    if head & 1 and blob[0] != 0x28:                                                    # §5.1.1
        assert code_dict is not None, "a dictionary frame outside the Codes section"
        blob = b"\x28\xb5\x2f\xfd" + blob
        return zstandard.ZstdDecompressor(dict_data=code_dict()).decompress(blob), pos + (head >> 1)
    return (zstandard.ZstdDecompressor().decompress(blob) if head & 1 else blob), pos + (head >> 1)


def _spec_code_dict(digest, level):
    """Appendix C: the dictionary file of (Model_Digest, Level), checked against the spec's SHA-256."""
    name = f"{digest.hex()}-q{level}.zdict"
    row = re.search(rf"\| {level} \| \w+ \| `{digest.hex()}` \| `{name}` \| `([0-9a-f]{{64}})` \|", SPEC_TEXT)
    assert row, f"formats/aez.md Appendix C lists no dictionary {name}"
    data = (TRAINED / "codedicts" / name).read_bytes()
    assert hashlib.sha256(data).hexdigest() == row.group(1)
    return zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)


def _bits(blob, start, count, bits):
    """*count* numbers of *bits* bits from bit *start*, LSB-first (§5.2.1, §5.3.1)."""
    stream = np.unpackbits(np.frombuffer(bytes(blob), np.uint8), bitorder="little")
    return [sum(int(stream[start + i * bits + k]) << k for k in range(bits)) for i in range(count)]


def _spec_names(blob, count):                                                          # §5.2, §5.2.1
    if blob[0] != 0:
        names, pos = [], 0
        for _ in range(count):
            n, pos = _varint(blob, pos)
            names.append(bytes(blob[pos:pos + n]).decode("utf-8"))
            pos += n
        return names
    ntok, pos = _varint(blob, 1)
    template = []
    for _ in range(ntok):
        t, pos = _varint(blob, pos)
        if t & 1:
            template.append(t >> 1)
        else:
            template.append(bytes(blob[pos:pos + (t >> 1)]))
            pos += t >> 1
    columns = []
    for _ in range(sum(isinstance(t, int) for t in template)):
        mode = blob[pos]
        base, pos = _varint(blob, pos + 1)
        if mode & 1:
            base = base >> 1 if base % 2 == 0 else -((base + 1) >> 1)
        columns.append((mode & 1, mode >> 1, base))
    at, values = 0, []
    for delta, bits, base in columns:
        u = _bits(blob[pos:], at, count, bits)
        at += count * bits
        v, prev = [], 0
        for x in u:
            prev = prev + base + x if delta else base + x
            v.append(prev)
        values.append(v)
    names = []
    for i in range(count):
        it = iter(range(len(values)))
        parts = []
        for t in template:
            if isinstance(t, bytes):
                parts.append(t.decode("utf-8"))
            else:
                parts.append(str(values[next(it)][i]).rjust(t, "0"))
        names.append("".join(parts))
    return names


def _spec_psnr(blob, count):                                                           # §5.3, §5.3.1
    if len(blob) == count:
        return list(bytes(blob))
    base, bits = blob[0], blob[1]
    return [base + u for u in _bits(blob[2:], 0, count, bits)]


FRACTION = {1: 2.0, 2: 1.5, 3: 1.25, 4: 0.75, 5: 0.75, 6: 1.5, 7: 0.72, 8: 1.0, 9: 0.65}   # §4.3


def _spec_grid(cal, f):
    """§4.3: (Offset, Step, Levels) of a quality level's step fraction *f*."""
    lo, hi = np.asarray(cal["min"], np.float64), np.asarray(cal["max"], np.float64)
    span = hi - lo
    if cal.get("quant_step") is not None:
        s = np.asarray(cal["quant_step"], np.float64) * f
        c = np.round(np.asarray(cal["mean"], np.float64) / s)
        b = np.max(c - np.floor((lo - 0.25 * span) / s))
        offset, step = ((c - b) * s).astype(np.float32), s.astype(np.float32)
    else:
        step = (np.maximum(np.asarray(cal["std"], np.float64), 1e-6) * f).astype(np.float32)
        offset = (lo - 0.25 * span).astype(np.float32)
    levels = np.minimum(65536, np.ceil((hi + 0.25 * span - offset.astype(np.float64)) / step.astype(np.float64)) + 1)
    return offset, step, levels.astype(np.int64)


def _spec_pixels(payload, count, k, digest):
    """§5.7: a pixel payload, by the spec-only decoder of tests/lossless_spec_decoder.py, with
    the model read from trained/*.npz by numpy alone and picked by its digest."""
    import lossless_spec_decoder as spec
    for path in sorted(TRAINED.glob("*.npz")):
        with np.load(path, allow_pickle=False) as npz:
            if "window" in npz.files and spec.digest(npz) == digest:
                return spec.decode(payload, count, 28, 28, k, {n: npz[n] for n in npz.files})
    pytest.fail(f"no pixel model in {TRAINED} with digest {digest.hex()}")


def spec_decode_v2(data):
    """§4-§5: a version 2 file, lossy or pixel mode."""
    flags, level, digest = data[5], data[6] & 0x3F, data[7:15]
    count, pos = _varint(data, 15)
    if flags & 0x08:                                                                    # §5.5 Pixels
        payload, end = _section(data, pos)
        return _spec_pixels(payload, count, level, digest)
    meta, arrays = _spec_weights(digest)
    latent = meta["latent_dim"]
    if level == 0:                                                                      # §4.3 Quant_Table
        sample, dims = struct.unpack_from("<BH", data, pos)
        quant = np.frombuffer(data, "<f4", 2 * dims, pos + 3).reshape(dims, 2)
        offset, step, levels = quant[:, 0], quant[:, 1], np.full(dims, 1 << (8 * sample))
        pos += 3 + 8 * dims
    else:
        offset, step, levels = _spec_grid(meta["calibration"], FRACTION[level])
        sample = 1 if levels.max() <= 256 else 2
    head, _ = _varint(data, pos)
    blob, pos = _section(data, pos, lambda: _spec_code_dict(digest, level))             # §5.1
    if head & 1:
        codes = np.frombuffer(blob, "<u1" if sample == 1 else "<u2").reshape(latent, count).T
    else:
        bits = np.array([max(1, int(n - 1).bit_length()) for n in levels])
        stream = np.unpackbits(np.frombuffer(blob, np.uint8), bitorder="little")
        codes = np.zeros((count, latent), np.int64)
        at = 0
        for i in range(count):
            for d in range(latent):
                codes[i, d] = int(sum(int(stream[at + k]) << k for k in range(bits[d])))
                at += bits[d]
    assert (codes < levels).all()
    z = offset + codes.astype(np.float32) * step
    y = _spec_decoder(meta["decoder"], arrays, z)
    pixels = np.clip(np.rint(y * np.float32(255)), 0, 255).astype(np.uint8).reshape(count, 28, 28)
    extras = {}
    for flag, what in ((0x01, "names"), (0x02, "psnr"), (0x10, "verdicts")):
        if flags & flag:
            extras[what], pos = _section(data, pos)
    if "names" in extras:
        SPEC_EXTRAS["names"] = _spec_names(extras["names"], count)
    if "psnr" in extras:
        SPEC_EXTRAS["psnr"] = _spec_psnr(extras["psnr"], count)
    if flags & 0x04:                                                                    # §5.6 Raw
        n, pos = _varint(data, pos)
        index, at = [], -1
        for _ in range(n):
            gap, pos = _varint(data, pos)
            at += gap + 1
            index.append(at)
        raw_digest = data[pos:pos + 8]
        raw, pos = _section(data, pos + 8)
        pixels[index] = (np.frombuffer(raw, np.uint8).reshape(n, 28, 28) if raw_digest == bytes(8)
                         else _spec_pixels(raw, n, 0, raw_digest))
    assert pos == len(data) - 4
    return pixels


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_independent_decoder_from_the_spec(name):
    """Every valid vector, decoded from the spec with numpy alone, gives its expected pixels."""
    SPEC_EXTRAS.clear()
    data = (VECTORS / f"{name}.aez").read_bytes()
    got = spec_decode(data)
    ref = archive.read(data)   # the names and Psnr the spec gives are the ones aezip reads
    if "names" in SPEC_EXTRAS:
        assert SPEC_EXTRAS["names"] == list(ref.names)
    if "psnr" in SPEC_EXTRAS:
        assert SPEC_EXTRAS["psnr"] == [int(v) for v in ref.psnr]
    want = np.load(VECTORS / f"{name}.expected.npy", allow_pickle=False)
    assert got.shape == want.shape
    # float32 sums in another order may move a pixel by one gray level, never more
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
