"""Lossless / near-lossless pixel coder: exactness, error bound, fallback, damage, threads."""

import numpy as np
import pytest

from aezip import lossless
from aezip.container_v2 import write_varint
from aezip.errors import BadAezFile
from aezip.lossless import bins, encode, layout
from aezip.lossless.model import load_default, normalize

from helpers import sample_digits


@pytest.fixture(scope="module")
def digits():
    return sample_digits()[:40]


def test_lossless_round_trip_is_exact(digits):
    payload = lossless.encode_pixels(digits)
    back = lossless.decode_pixels(payload, len(digits), 28, 28)
    assert back.dtype == np.uint8 and back.shape == digits.shape
    assert np.array_equal(back, digits)
    # the model beats the raw pixels by far on digits (about 1.1 bit/px)
    assert len(payload) < 0.2 * digits.size


@pytest.mark.parametrize("k", [1, 2, 4, 16, 32])
def test_near_lossless_error_bound(digits, k):
    payload = lossless.encode_pixels(digits, max_error=k)
    back = lossless.decode_pixels(payload, len(digits), 28, 28, max_error=k)
    err = np.abs(back.astype(int) - digits.astype(int))
    assert err.max() <= k
    assert np.array_equal(back[digits == 0], digits[digits == 0])
    assert np.array_equal(back[digits == 255], digits[digits == 255])
    assert len(payload) < len(lossless.encode_pixels(digits))


@pytest.mark.parametrize("k", range(0, 33))
def test_bins_cover_every_value_within_k(k):
    v = np.arange(256)
    s = bins.to_bins(v, k)
    c = bins.centres(k)
    assert s.min() == 0 and s.max() == bins.bin_count(k) - 1
    assert np.abs(c[s].astype(int) - v).max() <= k
    assert c[s[0]] == 0 and c[s[255]] == 255
    assert np.array_equal(np.unique(s), np.arange(bins.bin_count(k)))  # no empty bin
    assert np.array_equal(bins.to_bins(c, k), np.arange(bins.bin_count(k)))  # centres in their bins


def test_normalize_rule():
    rng = np.random.default_rng(1)
    w = rng.integers(1, 1 << 15, (500, 17))
    g = normalize(w)
    assert (g >= 1).all() and (g.sum(axis=1) == 1 << 16).all()
    # S = 11: 1 + floor(5 * 65533 / 11) = 29788, 1 + floor(65533 / 11) = 5958; the 2 left go to the first largest
    assert normalize(np.array([[5, 5, 1]]))[0].tolist() == [29790, 29788, 5958]


def test_noise_falls_back_to_stored_or_lzma():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (30, 28, 28), dtype=np.uint8)
    payload = lossless.encode_pixels(noise)
    assert payload[2] in (layout.MODE_LZMA, layout.MODE_STORED)
    assert len(payload) <= noise.size * 1.01
    assert np.array_equal(lossless.decode_pixels(payload, 30, 28, 28), noise)


@pytest.mark.parametrize("mode", [layout.MODE_MODEL, layout.MODE_LZMA, layout.MODE_STORED])
@pytest.mark.parametrize("k", [0, 3])
def test_every_chunk_mode_decodes(digits, mode, k):
    payload, _ = encode._encode(digits[:6], k, 1, None, force_modes=[mode])
    assert payload[2] == mode
    back = lossless.decode_pixels(payload, 6, 28, 28, max_error=k)
    assert np.abs(back.astype(int) - digits[:6]).max() <= k


def test_bytes_do_not_depend_on_threads(digits, monkeypatch):
    monkeypatch.setattr(layout, "CHUNK", 12)  # 40 images -> 4 chunks
    monkeypatch.setitem(layout.LAYOUTS, layout.LAYOUT_VERSION, (5, 1))  # of 2 rounds of 5 lanes each
    ref = lossless.encode_pixels(digits, threads=1)
    assert len(layout.chunk_spans(len(digits))) == 4
    for t in (2, 3):
        assert lossless.encode_pixels(digits, threads=t) == ref
        assert np.array_equal(lossless.decode_pixels(ref, len(digits), 28, 28, threads=t), digits)


def test_empty_batch():
    payload = lossless.encode_pixels(np.zeros((0, 28, 28), np.uint8))
    assert payload == bytes([layout.LAYOUT_VERSION, 0])
    assert lossless.decode_pixels(payload, 0, 28, 28).shape == (0, 28, 28)


def test_wrong_k_or_version_is_refused(digits):
    payload = lossless.encode_pixels(digits[:3], max_error=2)
    with pytest.raises(BadAezFile, match="max_error 2"):
        lossless.decode_pixels(payload, 3, 28, 28, max_error=0)
    with pytest.raises(BadAezFile, match="layout version"):
        lossless.decode_pixels(b"\x07" + payload[1:], 3, 28, 28, max_error=2)


def test_truncated_and_extended_payloads_are_refused(digits):
    payload = lossless.encode_pixels(digits[:5])
    for cut in [0, 1, 2, 3, 4, 10, len(payload) // 2, len(payload) - 2, len(payload) - 1]:
        with pytest.raises(BadAezFile):
            lossless.decode_pixels(payload[:cut], 5, 28, 28)
    with pytest.raises(BadAezFile):
        lossless.decode_pixels(payload + b"\0", 5, 28, 28)
    with pytest.raises(BadAezFile):
        lossless.decode_pixels(payload, 6, 28, 28)


def test_damaged_words_are_detected(digits):
    payload = bytearray(lossless.encode_pixels(digits[:5]))
    rng = np.random.default_rng(3)
    length, body_start = layout._read_uleb(payload, 3)
    assert body_start + length == len(payload)
    for pos in rng.integers(body_start, len(payload), 40):
        bad = bytearray(payload)
        bad[pos] ^= 1 << int(rng.integers(0, 8))
        with pytest.raises(BadAezFile):
            lossless.decode_pixels(bytes(bad), 5, 28, 28)


def test_hostile_counts_do_not_allocate(digits):
    payload = lossless.encode_pixels(digits[:2])
    with pytest.raises(BadAezFile):
        lossless.decode_pixels(payload, 10**12, 28, 28)
    with pytest.raises(BadAezFile):
        lossless.decode_pixels(bytes([1, 0, 2]) + write_varint(2**34) + b"x", 1, 28, 28)
    with pytest.raises(BadAezFile):  # a stored chunk cannot claim more pixels than count x H x W
        lossless.decode_pixels(bytes([1, 0, 2, 3]) + b"abc", 1, 28, 28)


def test_lzma_bomb_is_bounded():
    import lzma

    bomb = lzma.compress(b"\0" * 10_000_000, format=lzma.FORMAT_RAW, filters=layout._lzma_filters(784))
    payload = bytes([1, 0, 1]) + write_varint(len(bomb)) + bomb
    with pytest.raises(BadAezFile, match="expected 784"):
        lossless.decode_pixels(payload, 1, 28, 28)


def test_bad_arguments():
    with pytest.raises(ValueError):
        lossless.encode_pixels(np.zeros((2, 28, 28), np.float32))
    with pytest.raises(ValueError):
        lossless.encode_pixels(np.zeros((2, 20, 20), np.uint8))
    with pytest.raises(ValueError):
        lossless.encode_pixels(np.zeros((2, 28, 28), np.uint8), max_error=33)


def test_model_digest_is_canonical():
    m = load_default()
    d = lossless.model_digest()
    assert isinstance(d, bytes) and len(d) == 8 and d == m.digest
    assert lossless.model_name() == m.name
    import hashlib

    assert hashlib.sha256(m.serialize()).digest()[:8] == d


def test_import_does_not_pull_torch():
    import subprocess
    import sys

    code = "import sys, aezip.lossless; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_bundled_card_names_the_bundled_model():
    import json

    from aezip.lossless.model import DEFAULT_MODEL_PATH

    card = json.loads(DEFAULT_MODEL_PATH.with_suffix(".json").read_text())
    assert card["digest"] == lossless.model_digest().hex()
    assert card["command"].startswith("python scripts/train_pixel_model.py")
    assert DEFAULT_MODEL_PATH.stat().st_size < 3 * 1024 * 1024


@pytest.mark.parametrize("k", [0, 3])
def test_several_images_per_lane_round_trip(digits, monkeypatch, k):
    """The coder's groups (GROUPS > 1: a round's images on fewer lanes, group after group
    within a position) decode exactly and give the same bytes on any thread count."""
    monkeypatch.setattr(layout, "CHUNK", 20)
    monkeypatch.setitem(layout.LAYOUTS, layout.LAYOUT_VERSION, (8, 3))  # rounds of 7 images on 3 lanes: groups 3, 3, 1
    assert layout.round_layout(20) == (3, 7, 3)
    ref = lossless.encode_pixels(digits, max_error=k, threads=1)
    assert lossless.encode_pixels(digits, max_error=k, threads=2) == ref
    back = lossless.decode_pixels(ref, len(digits), 28, 28, max_error=k, threads=2)
    assert np.abs(back.astype(int) - digits).max() <= k
    monkeypatch.setitem(layout.LAYOUTS, layout.LAYOUT_VERSION, (8, 1))  # read as one image per lane: it must not decode
    with pytest.raises(lossless.BadLosslessPayload):
        lossless.decode_pixels(ref, len(digits), 28, 28, max_error=k)
