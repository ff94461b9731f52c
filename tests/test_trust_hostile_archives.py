"""Archives built by an attacker: hostile names never write outside the output
folder, and header claims are checked before anything is allocated (issue 6)."""

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import zstandard

import aezip
from aezip import cli, container
from aezip.errors import BadAezFile
from aezip.idx import read_idx

HOSTILE_NAMES = [
    "../escape.png", "a/../../escape.png", "/tmp/abs.png", "//server/share.png", "C:/win.png",
    "C:win.png", "a\\..\\escape.png", "nul\x00byte.png", "ctrl\x07.png", "new\nline.png",
    "./dot.png", "a//b.png", "a/./b.png", "trailing/", "..",
]


@pytest.fixture(scope="module")
def digits(samples):
    return read_idx(samples / "t10k-first100-idx3-ubyte.gz")[:4]


def _tree(root):
    """Every path under root (links not followed), for before/after comparisons."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            out.append(os.path.relpath(os.path.join(dirpath, n), root))
    return sorted(out)


@pytest.fixture
def arena(tmp_path):
    """A sandbox: arena/work holds the archive and the output; arena/outside is
    where an escape would land.  Checked to be unchanged after each test."""
    (tmp_path / "work").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "keep.png").write_bytes(b"precious")
    return tmp_path


def _archive_with(digits, names):
    return aezip.compress(digits[:len(names)], names=names)


@pytest.mark.parametrize("bad", HOSTILE_NAMES)
def test_hostile_name_is_refused(arena, digits, capsys, bad):
    work = arena / "work"
    path = work / "evil.aez"
    path.write_bytes(_archive_with(digits, ["ok.png", bad]))
    before_all = _tree(arena)
    rc = cli.run(["extract", str(path), "-o", str(work / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("aezip: error: ") and err.count("\n") == 1, err
    assert "archive name" in err
    assert _tree(arena) == before_all      # nothing written anywhere, not even ok.png
    assert not Path("/tmp/abs.png").exists() or bad != "/tmp/abs.png"


@pytest.mark.parametrize("names", [
    ["a.png", "a.png"],            # plain duplicate
    ["A.png", "a.png"],            # duplicate on a case-insensitive disk
    ["a.png", "a.png/b.png"],      # a file that is also a folder
])
def test_duplicates_and_clashes_are_refused(arena, digits, capsys, names):
    work = arena / "work"
    path = work / "dup.aez"
    path.write_bytes(_archive_with(digits, names))
    before = _tree(arena)
    assert cli.run(["extract", str(path), "-o", str(work / "out")]) == 1
    assert "archive" in capsys.readouterr().err
    assert _tree(arena) == before


def test_same_stem_different_suffix_is_kept_apart(arena, digits, capsys):
    """x.jpg and x.png both map to x.png: the second keeps its full name (x.png.png),
    none is lost, and extract says so."""
    work = arena / "work"
    path = work / "stems.aez"
    path.write_bytes(_archive_with(digits, ["x.jpg", "x.png"]))
    assert cli.run(["extract", str(path), "-o", str(work / "out")]) == 0
    assert sorted(os.listdir(work / "out")) == ["x.png", "x.png.png"]
    assert "x.png: written as x.png.png" in capsys.readouterr().err


def test_symlinked_folder_in_output_is_not_followed(arena, digits, capsys):
    """A pre-existing symlink inside the output folder that points outside."""
    work, outside = arena / "work", arena / "outside"
    out = work / "out"
    out.mkdir()
    os.symlink(outside, out / "d")
    path = work / "link.aez"
    path.write_bytes(_archive_with(digits, ["d/x.png", "e/y.png"]))
    before = _tree(arena)
    for force in ([], ["-f"]):
        assert cli.run(["extract", str(path), "-o", str(out)] + force) == 1
        err = capsys.readouterr().err
        assert "outside" in err and err.count("\n") == 1, err
        assert _tree(arena) == before
    assert (outside / "keep.png").read_bytes() == b"precious"


def test_symlinked_file_in_output_is_not_replaced(arena, digits, capsys):
    work, outside = arena / "work", arena / "outside"
    out = work / "out"
    out.mkdir()
    os.symlink(outside / "keep.png", out / "x.png")
    path = work / "f.aez"
    path.write_bytes(_archive_with(digits, ["x.png"]))
    assert cli.run(["extract", "-f", str(path), "-o", str(out)]) == 1
    assert "symlink" in capsys.readouterr().err
    assert (outside / "keep.png").read_bytes() == b"precious"
    assert os.path.islink(out / "x.png")


def test_broken_symlink_as_target_is_refused(arena, digits, capsys):
    work = arena / "work"
    os.symlink(arena / "outside" / "new", work / "out")
    path = work / "b.aez"
    path.write_bytes(_archive_with(digits, ["x.png"]))
    assert cli.run(["extract", "-f", str(path), "-o", str(work / "out")]) == 1
    assert "broken symbolic link" in capsys.readouterr().err
    assert _tree(arena / "outside") == ["keep.png"]


def test_output_file_symlink_is_replaced_not_followed(arena, digits):
    """extract --format npy -f onto a symlink replaces the link, never writes through it."""
    work, outside = arena / "work", arena / "outside"
    os.symlink(outside / "keep.png", work / "a.npy")
    path = work / "a.aez"
    path.write_bytes(aezip.compress(digits))
    assert cli.run(["extract", "-q", "--format", "npy", str(path), "-o", str(work / "a.npy")]) == 1
    assert cli.run(["extract", "-q", "-f", "--format", "npy", str(path), "-o", str(work / "a.npy")]) == 0
    assert not os.path.islink(work / "a.npy")
    assert (outside / "keep.png").read_bytes() == b"precious"


def test_names_that_are_fine_stay_inside(arena, digits):
    work = arena / "work"
    names = ["a/b/c.png", "..x.png", "x..png", "ünïcode/名前.png"]
    path = work / "ok.aez"
    path.write_bytes(_archive_with(digits, names))
    assert cli.run(["extract", "-q", str(path), "-o", str(work / "out")]) == 0
    assert sorted(_tree(work / "out")) == sorted(["a", "a/b", "a/b/c.png", "..x.png", "x..png",
                                                  "ünïcode", "ünïcode/名前.png"])
    assert _tree(arena / "outside") == ["keep.png"]


# ---- header claims ---------------------------------------------------------------

def _hand_built(count, height=28, width=28, latent=9, sample=1, frame=None, flags=0, tail=b"",
                length=None):
    """A small file with a valid CRC whose header claims what we like."""
    body = container.FIXED.pack(container.MAGIC, 1, flags, 5, sample, b"\x11" * 8, count, height, width,
                                latent, 4, 0) + b"mlp9" + struct.pack("<ff", 0.0, 1.0) * min(latent, 9)
    if frame is None:
        frame = zstandard.ZstdCompressor().compress(b"\x00" * 9)
    body += struct.pack("<I", len(frame) if length is None else length) + frame + tail
    return body + struct.pack("<I", zlib.crc32(body))


LIARS = {
    "4 billion images": lambda: _hand_built(0xFFFFFFFF),
    "a million images, 9-byte codes": lambda: _hand_built(1_000_000),
    "65535x65535 pixels": lambda: _hand_built(1, 65535, 65535),
    "65535 code values": lambda: _hand_built(1, latent=65535),
    "section length 4 GiB": lambda: _hand_built(1, length=0xFFFFFFFF),
    # the frame declares what the header implies (9 MB) but holds 9 bytes
    "frame declares 9 MB, holds 9 bytes": lambda: _hand_built(
        1_000_000, frame=_lying_frame(9_000_000, b"\x00" * 9)),
    # honest 9 MB of codes (a few hundred bytes of zstd), then sections that lie
    "names section declares 4 GB": lambda: _hand_built(
        1_000_000, frame=_ZEROS(), flags=container.FLAG_NAMES,
        tail=_sec(_lying_frame(4_000_000_000, b"\x01\x00a"))),
    "names section declares 4.1 GB (over the limit)": lambda: _hand_built(
        1_000_000, frame=_ZEROS(), flags=container.FLAG_NAMES,
        tail=_sec(_lying_frame(4_100_000_000, b"\x01\x00a"))),
    "raw section claims a million images": lambda: _hand_built(
        1_000_000, frame=_ZEROS(), flags=container.FLAG_RAW,
        tail=_sec(_lying_frame(4 + 1_000_000 * 788, struct.pack("<II", 1_000_000, 0)))),
    "psnr section declares the right size, holds 3 bytes": lambda: _hand_built(
        1_000_000, frame=_ZEROS(), flags=container.FLAG_PSNR,
        tail=_sec(_lying_frame(1_000_000, b"abc"))),
}


def _ZEROS():
    return zstandard.ZstdCompressor(level=3).compress(bytes(9_000_000))


def _sec(frame):
    return struct.pack("<I", len(frame)) + frame


def _lying_frame(declared, content):
    """A zstd frame whose header declares *declared* bytes but which holds *content*."""
    real = zstandard.ZstdCompressor(write_content_size=False).compress(content)
    params = zstandard.get_frame_parameters(real)
    assert params.content_size == zstandard.CONTENTSIZE_UNKNOWN
    # rebuild the frame header: magic, descriptor with an 8-byte content size field
    magic, fhd = real[:4], real[4]
    window = real[5:6] if not fhd & 0x20 else b""
    rest = real[5 + len(window):]
    fhd = (fhd & 0x3F) | 0xC0          # Frame_Content_Size_flag = 3: 8 bytes
    return magic + bytes([fhd]) + window + struct.pack("<Q", declared) + rest


@pytest.mark.parametrize("name", list(LIARS))
def test_lying_header_is_refused(name):
    data = LIARS[name]()
    assert len(data) < 1000
    with pytest.raises(BadAezFile):
        container.unpack(data)
    with pytest.raises(BadAezFile):
        aezip.decompress(data)


MEMORY_PROBE = r"""
import json, resource, sys, time, tracemalloc
def peak_mb():
    # VmHWM: this process image's peak RSS (ru_maxrss can carry the forking parent's peak
    # across exec on Linux); ru_maxrss where /proc is missing
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.path.insert(0, sys.argv[1])
import aezip
from aezip.errors import BadAezFile
files = json.loads(sys.stdin.read())
dec = aezip.AezDecompressor()
import numpy  # baseline: interpreter + numpy + zstandard + the model
base = peak_mb()
tracemalloc.start()
out = {}
for name, hexdata in files.items():
    t = time.perf_counter()
    try:
        dec.decompress(bytes.fromhex(hexdata))
        out[name] = "accepted"
    except BadAezFile as e:
        out[name] = "refused"
    out[name + " ms"] = 1e3 * (time.perf_counter() - t)
out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
out["peak_rss_mb"] = peak_mb()
out["base_mb"] = base
print(json.dumps(out))
"""


def test_lying_headers_stay_under_100_mb():
    """Peak memory of a fresh process that reads every lying archive (peak RSS of
    the whole process, interpreter, numpy and model included)."""
    files = {k: f().hex() for k, f in LIARS.items()}
    repo = Path(__file__).resolve().parent.parent
    res = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(repo)], input=json.dumps(files),
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    out = json.loads(res.stdout)
    assert all(out[k] == "refused" for k in LIARS), out
    assert out["peak_rss_mb"] < 100, out
    assert out["traced_peak_mb"] < 20, out
