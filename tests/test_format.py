"""The test vectors in formats/vectors decode as formats/aez.md says."""

import hashlib
import io
import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

import aezip

VECTORS = Path(__file__).resolve().parent.parent / "formats" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


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
    assert data[:4] == b"\xaeAEZ" and data[4] == 1
    (magic, version, flags, quality, sample, digest, count, h, w, latent, nlen, form) = \
        struct.unpack_from("<4sBBBB8sIHHHBB", data)
    assert (flags, quality, sample, count, h, w, latent, nlen, form) == (0x02, 5, 1, 1, 28, 28, 32, 5, 0)
    assert struct.unpack("<I", data[-4:])[0] == zlib.crc32(data[:-4])
    spec = (VECTORS.parent / "aez.md").read_text()
    assert f"Checksum = CRC-32 0x{zlib.crc32(data[:-4]):08x}" in spec


# ---- an independent decoder: formats/aez.md and numpy only, no aezip code -----------------

TRAINED = Path(__file__).resolve().parent.parent / "trained"


def _spec_weights(digest):
    """(meta, arrays) of the weights file whose SHA-256 starts with *digest* (Appendix A)."""
    for path in sorted(TRAINED.glob("*.npz")):
        blob = path.read_bytes()
        if hashlib.sha256(blob).digest()[:8] == digest:
            with np.load(io.BytesIO(blob), allow_pickle=False) as npz:
                arrays = {k: npz[k].astype(np.float32) if npz[k].dtype == np.float16 else npz[k] for k in npz.files}
            return json.loads(arrays.pop("meta.json").tobytes().decode()), arrays
    pytest.fail(f"no weights in {TRAINED} with digest {digest.hex()}")


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
    """Decode an .aez file from formats/aez.md alone: header, quant table, sections, model."""
    assert data[:4] == b"\xaeAEZ" and data[4] == 1
    assert zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]                  # §6
    flags, sample = data[5], data[7]
    digest = data[8:16]
    count, height, width, latent, nlen = struct.unpack_from("<IHHHB", data, 16)        # §4.1
    pos = 28 + nlen
    quant = np.frombuffer(data, "<f4", 2 * latent, pos).reshape(latent, 2)              # §4.3
    sections = _spec_sections(data, pos + 8 * latent)
    codes = np.frombuffer(sections[0], "<u1" if sample == 1 else "<u2")                 # §5.1
    z = quant[:, 0] + codes.reshape(latent, count).T.astype(np.float32) * quant[:, 1]
    meta, arrays = _spec_weights(digest)
    y = _spec_decoder(meta["decoder"], arrays, z)
    pixels = np.clip(np.rint(y * np.float32(255)), 0, 255).astype(np.uint8).reshape(count, height, width)
    if flags & 0x04:                                                                    # §5.4
        raw = sections[-1]
        (k,) = struct.unpack_from("<I", raw)
        index = np.frombuffer(raw, "<u4", k, 4)
        pixels[index] = np.frombuffer(raw, np.uint8, k * height * width, 4 + 4 * k).reshape(k, height, width)
    return pixels


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_independent_decoder_from_the_spec(name):
    """Every valid vector, decoded from the spec with numpy alone, gives its expected pixels."""
    got = spec_decode((VECTORS / f"{name}.aez").read_bytes())
    want = np.load(VECTORS / f"{name}.expected.npy", allow_pickle=False)
    assert got.shape == want.shape
    # float32 sums in another order may move a pixel by one gray level, never more
    diff = np.abs(got.astype(int) - want.astype(int))
    assert diff.max() <= 1 and (diff == 0).mean() > 0.99
