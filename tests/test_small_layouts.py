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
