"""The pixel mode end to end (issue 12): lossless and near-lossless archives through the API
and the CLI, the pixels the user gave and nothing else, and decoding that is the same on
every machine."""

import hashlib
import os
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip.cli import run
from helpers import REPO, sample_digits

VECTORS = REPO / "formats" / "vectors"


@pytest.fixture(scope="module")
def digits():
    return sample_digits()


def test_lossless_gives_back_the_exact_pixels(digits):
    noise = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    for x in (digits, noise, np.concatenate([digits[:5], noise]), digits[:1]):
        data = aezip.compress(x, lossless=True)
        np.testing.assert_array_equal(aezip.decompress(data), x)
        h = aezip.read_header(data)
        assert h.pixel_mode and h.max_error == 0 and h.quality is None and (h.psnr == 255).all()


@pytest.mark.parametrize("k", [1, 2, 4, 8, 16, 32])
def test_max_error_bounds_every_pixel(digits, k):
    data = aezip.compress(digits, max_error=k)
    out = aezip.decompress(data)
    err = np.abs(out.astype(int) - digits.astype(int))
    assert err.max() <= k and aezip.read_header(data).max_error == k
    assert (out[digits == 0] == 0).all() and (out[digits == 255] == 255).all()   # background stays exact


def test_near_lossless_files_shrink_as_the_error_grows(digits):
    sizes = [len(aezip.compress(digits, max_error=k) if k else aezip.compress(digits, lossless=True))
             for k in (0, 1, 2, 4, 8, 16)]
    assert sizes == sorted(sizes, reverse=True)


def test_lossy_options_do_not_mix_with_the_pixel_mode(digits):
    for kw in ({"quality": 3}, {"min_psnr": 20.0}, {"model": "rdf32"}):
        with pytest.raises(aezip.BadInput, match="lossy mode"):
            aezip.AezCompressor(lossless=True, **kw)
    with pytest.raises(aezip.BadInput, match="0 to 32"):
        aezip.AezCompressor(max_error=33)


def _pngs(folder, images):
    folder.mkdir()
    for i, img in enumerate(images):
        Image.fromarray(img).save(folder / f"{i:03d}.png")


def test_cli_lossless_and_max_error_round_trip(tmp_path, digits):
    _pngs(tmp_path / "in", digits[:20])
    assert run(["compress", str(tmp_path / "in"), "--lossless", "-o", str(tmp_path / "l.aez"), "-q"]) == 0
    assert run(["extract", str(tmp_path / "l.aez"), "-o", str(tmp_path / "out"), "-q"]) == 0
    for i in range(20):
        np.testing.assert_array_equal(np.asarray(Image.open(tmp_path / "out" / f"{i:03d}.png")), digits[i])
    assert run(["compress", str(tmp_path / "in"), "--max-error", "4", "-o", str(tmp_path / "k.aez"), "-q"]) == 0
    out = aezip.decompress((tmp_path / "k.aez").read_bytes())
    assert np.abs(out.astype(int) - digits[:20]).max() <= 4
    assert run(["test", str(tmp_path / "l.aez"), str(tmp_path / "k.aez")]) == 0


def test_cli_refuses_inputs_that_need_preprocessing_unless_asked(tmp_path, digits, capsys):
    """"Exact" means the pixels the user gave: a 40x30 image or a dark-on-light digit would be
    changed by MNIST preprocessing, so the exact modes refuse it by name (one line, exit 1,
    nothing written) unless --preprocess says to store the preprocessed image."""
    (tmp_path / "in").mkdir()
    Image.fromarray(digits[0]).save(tmp_path / "in" / "ok.png")
    Image.fromarray(255 - digits[1]).save(tmp_path / "in" / "dark-on-light.png")
    out = tmp_path / "x.aez"
    for mode in (["--lossless"], ["--max-error", "2"], ["--min-psnr", "30"]):
        assert run(["compress", str(tmp_path / "in"), "-o", str(out), *mode]) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "dark-on-light.png" in err and "--preprocess" in err
        assert not out.exists()
    assert run(["compress", str(tmp_path / "in"), "-o", str(out), "--lossless", "--preprocess", "-q"]) == 0
    assert aezip.read_header(out.read_bytes()).preprocessed
    capsys.readouterr()
    assert run(["info", "-v", str(out)]) == 0
    assert "MNIST-preprocessed" in capsys.readouterr().out


def test_damaged_lossless_archive_is_refused_like_any_other(tmp_path, digits, capsys):
    data = bytearray(aezip.compress(digits[:10], lossless=True))
    data[len(data) // 2] ^= 0x10
    bad = tmp_path / "bad.aez"
    bad.write_bytes(bytes(data))
    for cmd in (["extract", str(bad), "-o", str(tmp_path / "out")], ["test", str(bad)], ["info", str(bad)]):
        assert run(cmd) == 1
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "bad.aez" in err
    assert not (tmp_path / "out").exists()


DECODE = r"""
import hashlib, sys
sys.path.insert(0, sys.argv[1])
import aezip
for name in sys.argv[2:]:
    with open(name, "rb") as f:
        print(hashlib.sha256(aezip.decompress(f.read()).tobytes()).hexdigest())
"""


def test_pixel_vectors_decode_identically_across_simd_and_threads():
    """The pixel mode's probabilities are integer arithmetic (formats/aez.md §5.7): the same
    pixels whatever numpy's SIMD dispatch and AEZIP_THREADS, and the vectors' expected ones."""
    names = ["lossless-ten", "near-lossless-k4", "lossless-noise", "with-raw"]
    want = [hashlib.sha256(np.load(VECTORS / f"{n}.expected.npy").tobytes()).hexdigest() for n in names]
    for simd in ("", "AVX512F", "AVX2 FMA3"):
        for threads in ("1", "2", "3"):
            env = dict(os.environ, AEZIP_THREADS=threads)
            env.pop("NPY_DISABLE_CPU_FEATURES", None)
            if simd:
                env["NPY_DISABLE_CPU_FEATURES"] = simd
            out = subprocess.run([sys.executable, "-c", DECODE, str(REPO)] + [str(VECTORS / f"{n}.aez") for n in names],
                                 capture_output=True, text=True, env=env)
            assert out.returncode == 0, out.stderr
            got = out.stdout.split()
            assert got[:3] == want[:3], (simd, threads)   # with-raw's lossy pixels may move by 1 (§5.1)
