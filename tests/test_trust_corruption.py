"""Every truncation and every single-byte change of a real 100-image archive is
caught before anything is written (issue 6: corruption)."""

import os
import struct
import zlib

import numpy as np
import pytest

import aezip
from aezip import cli, container
from aezip.archive import read as read_archive
from aezip.errors import BadAezFile
from aezip.idx import read_idx


@pytest.fixture(scope="module")
def digits(samples):
    return read_idx(samples / "t10k-first100-idx3-ubyte.gz")


@pytest.fixture(scope="module")
def archive(digits):
    """100 images with every optional section: names, Psnr and Raw."""
    names = [f"{i % 10}/{i:05d}.png" for i in range(100)]
    data = aezip.compress(digits, names=names, min_psnr=16)
    arc = read_archive(data)
    assert arc.flags & (container.FLAG_NAMES | container.FLAG_PSNR | container.FLAG_RAW) == 7 and arc.judged
    assert 0 < len(arc.raw_index) < 100
    return data


@pytest.fixture(scope="module")
def decoder():
    return aezip.AezDecompressor()


def test_archive_decodes(archive, decoder, digits):
    images = decoder.decompress(archive)
    assert images.shape == (100, 28, 28)


def test_every_truncation_is_detected(archive, decoder):
    missed = []
    for n in range(len(archive)):
        try:
            decoder.decompress(archive[:n])
            missed.append(n)
        except BadAezFile:
            pass
    assert missed == [], f"prefixes accepted: {missed[:10]}"


def test_every_bit_flip_is_detected(archive, decoder):
    """The 8 single-bit changes at every position (all 255 values: test_trust_bytes.py)."""
    missed = 0
    data = bytearray(archive)
    for pos in range(len(data)):
        for bit in range(8):
            data[pos] ^= 1 << bit
            try:
                decoder.decompress(bytes(data))
                missed += 1
            except BadAezFile:
                pass
            data[pos] ^= 1 << bit
    assert missed == 0


def test_appended_bytes_are_detected(archive, decoder):
    for extra in (b"\x00", b"\x00" * 4, archive[-4:], b"junk"):
        with pytest.raises(BadAezFile):
            decoder.decompress(archive + extra)


def _refix(body):
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def test_parser_checks_structure_behind_a_valid_crc(archive, decoder):
    """With the CRC recomputed, every truncation is still refused by the structure
    checks (section lengths no longer add up)."""
    body = archive[:-4]
    for n in range(len(body)):
        with pytest.raises(BadAezFile):
            decoder.decompress(_refix(body[:n]))


def test_messages_are_one_line(archive, decoder):
    seen = set()
    for n in range(0, len(archive), 7):
        try:
            decoder.decompress(archive[:n])
        except BadAezFile as e:
            msg = str(e)
            assert msg and "\n" not in msg
            seen.add(msg.split(":")[0])
    assert len(seen) >= 2


# ---- CLI level: a sample of damaged files through aezip.cli.run --------------------

def _snapshot(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


@pytest.mark.parametrize("command", ["extract", "test", "info"])
def test_cli_refuses_damaged_files(tmp_path, archive, capsys, command):
    rng = np.random.default_rng(6)
    positions = sorted(set(rng.integers(0, len(archive), 24).tolist()) | {0, 4, 5, len(archive) - 1})
    cases = [("cut", n) for n in (0, 3, 27, len(archive) // 2, len(archive) - 1)] + \
            [("flip", p) for p in positions]
    for i, (how, n) in enumerate(cases):
        work = tmp_path / f"case{i}"
        work.mkdir()
        path = work / "damaged.aez"
        if how == "cut":
            path.write_bytes(archive[:n])
        else:
            b = bytearray(archive)
            b[n] ^= 0x5A
            path.write_bytes(bytes(b))
        before = _snapshot(work)
        rc = cli.run([command, str(path)] if command != "extract" else [command, str(path), "-o",
                                                                         str(work / "out")])
        out, err = capsys.readouterr()
        assert rc == 1, (how, n, err)
        lines = err.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"aezip: error: {path}: "), err
        assert "Traceback" not in err
        assert _snapshot(work) == before          # no output, no temporary left behind
        if command == "info":
            assert str(path) not in out


def test_cli_extract_to_default_name_writes_nothing(tmp_path, archive, capsys):
    path = tmp_path / "x.aez"
    path.write_bytes(archive[:-1])
    assert cli.run(["extract", str(path)]) == 1
    assert os.listdir(tmp_path) == ["x.aez"]
    assert capsys.readouterr().err.count("\n") == 1
