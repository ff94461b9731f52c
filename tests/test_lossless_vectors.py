"""The lossless test vectors decode to their pixels, both with aezip and with the spec-only decoder."""

import json
from pathlib import Path

import numpy as np
import pytest

import lossless_spec_decoder as spec
from aezip import lossless
from aezip.lossless import encode, layout
from aezip.lossless.model import load_default

VECTORS = Path(__file__).resolve().parent.parent / "formats" / "vectors"
INDEX = json.loads((VECTORS / "lossless-vectors.json").read_text())
NAMES = sorted(INDEX["vectors"])


MODEL = lossless.model_for_digest(bytes.fromhex(INDEX["model_digest"]))  # an older bundled model


def test_index_names_an_installed_model():
    assert MODEL is not None and MODEL.digest.hex() == INDEX["model_digest"]
    assert spec.digest(MODEL.arrays).hex() == INDEX["model_digest"]
    assert {v["mode"] for v in INDEX["vectors"].values()} >= {layout.MODE_MODEL, layout.MODE_LZMA}
    assert {v["max_error"] for v in INDEX["vectors"].values()} >= {0, 4}


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_with_aezip(name):
    v = INDEX["vectors"][name]
    payload = (VECTORS / f"{name}.bin").read_bytes()
    want = np.load(VECTORS / f"{name}.npy")
    got = lossless.decode_pixels(payload, v["count"], v["height"], v["width"], max_error=v["max_error"], model=MODEL)
    assert np.array_equal(got, want)
    # and the encoder still produces these very bytes
    again, _ = encode._encode(want if v["max_error"] == 0 else got, v["max_error"], 1, MODEL, force_modes=[v["mode"]])
    assert again == payload


@pytest.mark.parametrize("name", NAMES)
def test_vector_decodes_with_the_spec_decoder(name):
    v = INDEX["vectors"][name]
    payload = (VECTORS / f"{name}.bin").read_bytes()
    want = np.load(VECTORS / f"{name}.npy")
    got = spec.decode(payload, v["count"], v["height"], v["width"], v["max_error"], MODEL.arrays)
    assert np.array_equal(got, want)


def test_spec_decoder_refuses_a_damaged_vector():
    v = INDEX["vectors"]["lossless-k0"]
    payload = bytearray((VECTORS / "lossless-k0.bin").read_bytes())
    payload[-3] ^= 0x10
    with pytest.raises(ValueError):
        spec.decode(bytes(payload), v["count"], 28, 28, 0, MODEL.arrays)


@pytest.mark.parametrize("k", [0, 2])
def test_spec_decoder_follows_chunks_lanes_and_rounds(monkeypatch, k):
    """Small CHUNK / LANES on both sides: 9 images -> 4 chunks (3 -> 4, even), rounds of 2 lanes."""
    from helpers import sample_digits

    monkeypatch.setattr(layout, "CHUNK", 3)
    monkeypatch.setitem(layout.LAYOUTS, 1, (2, 1))
    x = sample_digits()[10:19]
    payload = lossless.encode_pixels(x, max_error=k)
    assert len(layout.chunk_spans(9)) == 4 and layout.round_layout(3) == (2, 2, 2)
    want = lossless.decode_pixels(payload, 9, 28, 28, max_error=k)
    got = spec.decode(payload, 9, 28, 28, k, load_default().arrays, max_chunk=3, max_lanes=2)
    assert np.array_equal(got, want)
