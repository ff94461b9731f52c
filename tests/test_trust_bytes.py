"""Every single-byte change of a real 100-image archive -- all 255 other values
at every position, about 1.3 million inputs -- is refused (issue 6: corruption).
Its own file so that each test file stays under ~30 s."""

import pytest

import aezip
from aezip import container  # noqa: F401
from aezip.archive import read as read_archive
from aezip.errors import BadAezFile
from aezip.idx import read_idx


@pytest.fixture(scope="module")
def archive(samples):
    digits = read_idx(samples / "t10k-first100-idx3-ubyte.gz")
    names = [f"{i % 10}/{i:05d}.png" for i in range(100)]
    data = aezip.compress(digits, names=names, min_psnr=16)
    assert read_archive(data).count == 100
    return data


def test_every_single_byte_change_is_detected(archive):
    """All 255 other values at every position: len(archive) x 255 inputs."""
    decoder = aezip.AezDecompressor()
    missed = 0
    data = bytearray(archive)
    for pos in range(len(data)):
        orig = data[pos]
        for v in range(256):
            if v == orig:
                continue
            data[pos] = v
            try:
                decoder.decompress(bytes(data))
                missed += 1
            except BadAezFile:
                pass
        data[pos] = orig
    assert missed == 0


