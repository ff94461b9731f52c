"""The compact section layouts added to format version 2 on 2026-12-02 (issue 13: small files
that are actually small): packed Psnr (formats/aez.md §5.3.1)."""

import numpy as np
import pytest

import aezip
from aezip import archive, container_v2 as v2
from aezip.errors import BadAezFile

from helpers import REPO

DIGITS = REPO / "samples" / "digits"


def sample_digits():
    """The 30 shipped sample digits and their names, as `aezip compress samples/digits` reads them."""
    from PIL import Image
    paths = sorted(DIGITS.rglob("*.png"))
    names = [p.relative_to(DIGITS).as_posix() for p in paths]
    return np.stack([np.asarray(Image.open(p).convert("L")) for p in paths]), names


# ---- §5.3.1 packed Psnr ----------------------------------------------------------------

@pytest.mark.parametrize("values", [[40] * 5, [32, 55, 40, 41], list(range(100, 228)), [0, 127] * 9, [254, 255, 254]])
def test_packed_psnr_round_trips_and_is_shorter(values):
    v = np.array(values, np.uint8)
    packed = v2.psnr_packed(v)
    if packed is None:   # not shorter than the plain layout: the writer keeps that one
        assert 2 + -(-len(v) * int(v.max() - v.min()).bit_length() // 8) >= len(v) \
            or int(v.max() - v.min()).bit_length() > 7
        return
    assert len(packed) < len(v)
    assert (v2.parse_psnr(packed, len(v)) == v).all()


def test_packed_psnr_never_for_one_image():
    assert v2.psnr_packed(np.array([40], np.uint8)) is None
    assert v2.psnr_packed(np.array([40, 40], np.uint8)) is None   # 2 bytes: not shorter than 2


@pytest.mark.parametrize("blob, count, error", [
    (bytes([30, 8]) + bytes(10), 13, "at most 7"),
    (bytes([30, 3]) + bytes(4), 12, "need 7"),
    (bytes([30, 3]) + bytes(3) + b"\xf0", 10, "padding bits"),      # 30 bits: the last 2 must be 0
    (bytes([250, 4]) + b"\xff" * 3, 6, "above 255"),
    (b"\x05", 3, "neither"),
    (bytes(13), 12, "header implies 12"),
])
def test_bad_packed_psnr_is_refused(blob, count, error):
    with pytest.raises(BadAezFile, match=error):
        v2.parse_psnr(blob, count)


def test_sample_digits_store_packed_psnr_and_read_back():
    images, names = sample_digits()
    data, scores = aezip.AezCompressor(5).compress_archive(images, names)
    psnr_section = archive.section_layout(data)[2]
    assert psnr_section[3] == v2.STORED and psnr_section[2] - psnr_section[1] < len(images)
    c = aezip.read_header(data)
    assert (c.psnr == np.clip(np.floor(scores / 0.5), 0, 254)).all()


def test_a_hostile_packed_psnr_in_a_file_is_refused():
    images, names = sample_digits()
    data = aezip.compress(images, names=names)
    for index, (_, start, end, _) in enumerate(archive.section_layout(data)):
        if end - start < len(images) and index:
            bad = archive.replace_section(data, index, bytes([200, 7]) + b"\xff" * (end - start - 2))
            with pytest.raises(BadAezFile, match="above 255|need"):
                aezip.decompress(bad)
            return
    pytest.fail("no packed Psnr section in the sample archive")


# ---- §5.2.1 tokenized Names --------------------------------------------------------------

@pytest.mark.parametrize("names", [
    [f"{i % 10}/{i:05d}.png" for i in range(100)],
    ["img1.png", "img2.png", "img10.png"],
    [f"x{i}" for i in range(0, 10 ** 9, 10 ** 7)],
    ["0", "1", "2"], ["a05b", "a12b"], ["a.png"],
])
def test_tokenized_names_round_trip(names):
    t = v2.names_tokenized(names)
    assert t is not None and t[0] == 0
    assert bytes(v2._tokenized_to_plain(t, len(names))) == v2.names_blob(names)


@pytest.mark.parametrize("names", [["a1", "b1"], ["a05", "a123"], ["a1234567890"], ["a1.png", "a.png"], ["a.png", "b.png"]])
def test_names_without_one_template_are_not_tokenized(names):
    assert v2.names_tokenized(names) is None


def test_sample_digits_store_tokenized_names():
    images, names = sample_digits()
    data = aezip.compress(images, names=names)
    _, start, end, _ = archive.section_layout(data)[1]
    assert data[start] == 0 and end - start < 50          # 360 bytes of names in under 50
    assert list(aezip.read_header(data).names) == names


def _tok(template, columns, bits_bytes):
    return bytes([0]) + v2.write_varint(len(template)) + b"".join(template) + b"".join(columns) + bits_bytes


@pytest.mark.parametrize("blob, count, error", [
    (_tok([b"\x02a"], [], b""), 1, "unexpected|"),                               # valid: "a"
    (bytes([0, 0]), 1, "no tokens"),
    (bytes([0, 33]), 1, "exceeds 32"),
    (_tok([b"\x15"], [bytes([0, 0])], b""), 1, "width 10"),
    (_tok([b"\x01"], [bytes([2, 0])], b""), 2, "take 1 bytes"),
    (_tok([b"\x01"], [bytes([2, 0])], b"\xfc"), 2, "padding"),
    (_tok([b"\x03"], [bytes([0, 10])], b""), 1, "outside 0..9"),
    (_tok([b"\x01"], [bytes([1 << 6, 0])], b""), 1, "reserved bits"),
    (_tok([b"\x01"], [bytes([1, 1])], b""), 2, "value -1"),                     # deltas of -1 from 0
    (_tok([b"\x01"], [], b""), 1, "no header"),
    (_tok([b"\x06ab"], [], b""), 1, "bad text length"),
])
def test_bad_tokenized_names_are_refused(blob, count, error):
    if error == "unexpected|":
        assert bytes(v2._tokenized_to_plain(blob, count)) == b"\x01a"
        return
    with pytest.raises(BadAezFile, match=error):
        v2._tokenized_to_plain(blob, count)


def test_tokenized_names_are_bounded_before_they_are_built():
    # 10^6 names of 1,000 text bytes + a number: 1 GB of names from a few bytes: refused
    blob = _tok([v2.write_varint(2000) + b"n" * 1000, b"\x01"], [bytes([0, 0])], b"")
    with pytest.raises(BadAezFile, match="more than"):
        v2._tokenized_to_plain(blob, 1_000_000)
    blob = _tok([v2.write_varint(2 * 1024) + b"n" * 1024, b"\x01"], [bytes([0, 5])], b"")
    with pytest.raises(BadAezFile, match="1025 bytes"):
        v2._tokenized_to_plain(blob, 1)


def test_tokenized_names_obey_the_name_rules():
    images, _ = sample_digits()
    good = aezip.compress(images[:2], names=["a1.png", "a2.png"])
    bad = archive.replace_section(good, 1, _tok([b"\x06../", b"\x01", b"\x08.png"], [bytes([2, 1])], b"\x02"))
    with pytest.raises(BadAezFile, match="'\\.\\.'"):
        aezip.decompress(bad)
    dup = archive.replace_section(good, 1, _tok([b"\x02a", b"\x01"], [bytes([0, 1])], b""))
    with pytest.raises(BadAezFile, match="held twice"):
        aezip.decompress(dup)
