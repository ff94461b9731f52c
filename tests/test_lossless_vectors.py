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
# layout 1 (frozen, an older bundled model) and layout 2 (what the encoder writes now)
INDEXES = {1: json.loads((VECTORS / "lossless-vectors.json").read_text()),
           2: json.loads((VECTORS / "lossless-vectors-2.json").read_text())}
MODELS = {v: lossless.model_for_digest(bytes.fromhex(ix["model_digest"])) for v, ix in INDEXES.items()}
CASES = sorted((v, name) for v, ix in INDEXES.items() for name in ix["vectors"])


@pytest.mark.parametrize("version", sorted(INDEXES))
def test_index_names_an_installed_model(version):
    index, model = INDEXES[version], MODELS[version]
    assert model is not None and model.digest.hex() == index["model_digest"]
    assert spec.digest(model.arrays).hex() == index["model_digest"]
    assert {v["mode"] for v in index["vectors"].values()} >= {layout.MODE_MODEL, layout.MODE_LZMA}
    assert {v["max_error"] for v in index["vectors"].values()} >= {0, 4}
    assert index.get("layout", 1) == version
    assert all((VECTORS / f"{name}.bin").read_bytes()[0] == version for name in index["vectors"])


def test_the_newest_vectors_are_of_the_layout_the_encoder_writes():
    assert max(INDEXES) == layout.LAYOUT_VERSION
    assert INDEXES[layout.LAYOUT_VERSION]["model_digest"] == lossless.model_digest().hex()


@pytest.mark.parametrize("version, name", CASES)
def test_vector_decodes_with_aezip(version, name):
    v, model = INDEXES[version]["vectors"][name], MODELS[version]
    payload = (VECTORS / f"{name}.bin").read_bytes()
    want = np.load(VECTORS / f"{name}.npy")
    got = lossless.decode_pixels(payload, v["count"], v["height"], v["width"], max_error=v["max_error"], model=model)
    assert np.array_equal(got, want)
    # and the encoder still produces these very bytes, asked for that layout
    again, _ = encode._encode(want if v["max_error"] == 0 else got, v["max_error"], 1, model,
                              force_modes=[v["mode"]], version=version)
    assert again == payload


@pytest.mark.parametrize("version, name", CASES)
def test_vector_decodes_with_the_spec_decoder(version, name):
    v, model = INDEXES[version]["vectors"][name], MODELS[version]
    payload = (VECTORS / f"{name}.bin").read_bytes()
    want = np.load(VECTORS / f"{name}.npy")
    got = spec.decode(payload, v["count"], v["height"], v["width"], v["max_error"], model.arrays)
    assert np.array_equal(got, want)


@pytest.mark.parametrize("version, name", [(1, "lossless-k0"), (2, "lossless2-k0")])
def test_spec_decoder_refuses_a_damaged_vector(version, name):
    v = INDEXES[version]["vectors"][name]
    payload = bytearray((VECTORS / f"{name}.bin").read_bytes())
    payload[-3] ^= 0x10
    with pytest.raises(ValueError):
        spec.decode(bytes(payload), v["count"], 28, 28, 0, MODELS[version].arrays)


@pytest.mark.parametrize("k, shape, rounds", [(0, (2, 1), (2, 2, 2)), (2, (2, 1), (2, 2, 2)),
                                              (0, (4, 2), (1, 3, 2)), (3, (4, 2), (1, 3, 2))])
def test_spec_decoder_follows_chunks_lanes_rounds_and_groups(monkeypatch, k, shape, rounds):
    """Small CHUNK / ROUND / GROUPS on both sides: 9 images -> 4 chunks (3 -> 4, even), in
    rounds of 2 images on 2 lanes, or in one round of 3 images in 2 groups on 2 lanes."""
    from helpers import sample_digits

    monkeypatch.setattr(layout, "CHUNK", 3)
    monkeypatch.setitem(layout.LAYOUTS, layout.LAYOUT_VERSION, shape)
    x = sample_digits()[10:19]
    payload = lossless.encode_pixels(x, max_error=k)
    assert len(layout.chunk_spans(9)) == 4 and layout.round_layout(3) == rounds
    want = lossless.decode_pixels(payload, 9, 28, 28, max_error=k)
    got = spec.decode(payload, 9, 28, 28, k, load_default().arrays, max_chunk=3,
                      layouts={layout.LAYOUT_VERSION: shape})
    assert np.array_equal(got, want)
