"""The test vectors in formats/vectors decode as formats/aez.md says."""

import json
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

import aezip
from aezip import container

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


def test_independent_decoder_from_the_spec():
    """Decode one-seven.aez with only struct, zlib, zstandard and the weights: no aezip.container."""
    import zstandard
    from aezip import zoo

    data = (VECTORS / "one-seven.aez").read_bytes()
    assert zlib.crc32(data[:-4]) == struct.unpack("<I", data[-4:])[0]
    digest = data[8:16]
    count, height, width, latent, nlen = struct.unpack_from("<IHHHB", data, 16)
    pos = 28 + nlen
    quant = np.frombuffer(data, "<f4", 2 * latent, pos).reshape(latent, 2)
    pos += 8 * latent
    (n,) = struct.unpack_from("<I", data, pos)
    codes = np.frombuffer(zstandard.ZstdDecompressor().decompress(data[pos + 4:pos + 4 + n]), np.uint8)
    z = quant[:, 0] + codes.reshape(latent, count).T.astype(np.float32) * quant[:, 1]
    model = zoo.model_for_digest(digest)
    y = model.decoder(z.astype(np.float32))
    pixels = np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).reshape(count, height, width)
    assert np.array_equal(pixels, aezip.decompress(data))
