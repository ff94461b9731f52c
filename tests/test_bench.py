"""aezip bench: the CLI end to end on the shipped samples, its accounting, SSIM, and its errors."""

import gzip
import json
import sys
from pathlib import Path

import numpy as np
import pytest

import aezip
from aezip import bench, cli, zoo
from aezip.metrics import psnr
from aezip.idx import read_idx

ROOT = Path(__file__).resolve().parents[1]
DIGITS = ROOT / "samples" / "digits"
IDX100 = ROOT / "samples" / "t10k-first100-idx3-ubyte.gz"
QUICK = "aezip,gzip,xz,gzip-file,png,jpeg,pca"   # fast codecs, every family


@pytest.fixture(autouse=True)
def no_mnist_env(monkeypatch):
    # PCA then fits on the input itself: fast, and independent of where MNIST lives.
    monkeypatch.delenv("AEZIP_MNIST_DIR", raising=False)


def run(*args):
    return cli.run(["bench", *map(str, args)])


def one_error_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("aezip: error: ")
    return lines[0]


# --- the command end to end -------------------------------------------------


def test_bench_writes_json_markdown_and_plot(tmp_path, capsys):
    pytest.importorskip("matplotlib", reason="--plot needs matplotlib (the plot extra)")
    j, m, p = tmp_path / "b.json", tmp_path / "b.md", tmp_path / "b.png"
    assert run(DIGITS, "--only", QUICK, "--nondigits", 4, "--json", j, "--markdown", m, "--plot", p) == 0
    out = capsys.readouterr().out
    doc = json.loads(j.read_text())
    assert doc["images"] == 30 and doc["source"] == str(DIGITS)
    rows = doc["rows"]
    assert {r["codec"] for r in rows} == set(QUICK.split(","))
    # every quality level of the ladder, read from zoo.LADDER
    assert [r["setting"] for r in rows if r["codec"] == "aezip"] == [f"q{q}" for q in sorted(zoo.LADDER)]
    for r in rows:
        assert r["total_bytes"] == pytest.approx(r["bytes_per_image"] * r["images"], abs=0.01)
        assert r["ratio_raw"] == pytest.approx(784 / r["bytes_per_image"], rel=1e-3)
        assert r["ratio_gzip"] == pytest.approx(doc["gzip_bytes_per_image"] / r["bytes_per_image"], rel=1e-3)
        if r["family"] == "lossless":
            assert r["exact"] and r["psnr"] is None and r["ssim"] == 1.0
        else:
            assert not r["exact"] and 0 < r["psnr"] < 60 and -1 <= r["ssim"] < 1
    assert "the input itself" in doc["pca_fit"]
    assert set(doc["nondigit"]) == {"letters", "noise"}
    command = f"aezip bench {DIGITS} --only {QUICK} --nondigits 4 --json {j} --markdown {m} --plot {p}"
    assert doc["command"] == command
    md = m.read_text()
    assert f"Made by: `{command}`" in md and f"Made by: {command}" in out
    assert md.index("| aezip | q1 |") < md.index("Made by:") < md.index("## Where aezip wins")
    assert "## Images unlike digits" in md and "aezip q5 gives a poor" in md
    assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stream_and_file_accounting_on_the_idx_sample(tmp_path):
    j = tmp_path / "b.json"
    assert run(IDX100, "--only", "aezip,gzip,gzip-file", "--nondigits", 0, "--json", j) == 0
    rows = {(r["codec"], r["setting"]): r for r in json.loads(j.read_text())["rows"]}
    images = read_idx(IDX100)
    # raw pixels as one stream: no IDX header
    assert rows["gzip", "-9"]["total_bytes"] == len(gzip.compress(images.tobytes(), 9, mtime=0))
    assert rows["gzip-file", "-9"]["total_bytes"] == sum(len(gzip.compress(a.tobytes(), 9, mtime=0))
                                                         for a in images)
    # aezip rows are the whole .aez file that the library writes, and its real PSNR
    q5 = rows["aezip", "q5"]
    data = aezip.compress(images, quality=5)
    assert q5["total_bytes"] == len(data)
    assert q5["psnr"] == pytest.approx(psnr(images, aezip.decompress(data)), abs=1e-3)


def test_failed_lossless_round_trip_is_an_error_not_a_row(tmp_path, capsys, monkeypatch):
    real = bench.codecs._Stream.decode

    def corrupt(self, blob, params, count):
        out = real(self, blob, params, count).copy()
        out[3, 5, 5] ^= 1
        return out

    monkeypatch.setattr(bench.codecs._Stream, "decode", corrupt)
    j = tmp_path / "b.json"
    assert run(DIGITS, "--only", "gzip", "--nondigits", 0, "--json", j) == 1
    line = one_error_line(capsys.readouterr().err)
    assert "round trip failed (image #3 differs)" in line
    assert not j.exists()


def test_unavailable_codec_is_a_note_not_a_crash(tmp_path, monkeypatch):
    from PIL import features

    monkeypatch.setitem(sys.modules, "brotli", None)      # import brotli -> ImportError
    check = features.check
    monkeypatch.setattr(features, "check", lambda f: False if f == "avif" else check(f))
    j, m = tmp_path / "b.json", tmp_path / "b.md"
    assert run(DIGITS, "--only", "brotli,avif,gzip", "--nondigits", 0, "--json", j, "--markdown", m) == 0
    doc = json.loads(j.read_text())
    assert [r["codec"] for r in doc["rows"]] == ["gzip"]
    assert any(n.startswith("brotli") and "not installed" in n for n in doc["notes"])
    assert any(n.startswith("AVIF") and "no AVIF support" in n for n in doc["notes"])
    assert "Skipped:" in m.read_text()


def test_jpegxl_is_a_note_without_imagecodecs(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "imagecodecs", None)
    j = tmp_path / "b.json"
    assert run(IDX100, "--only", "jpegxl,gzip", "--nondigits", 0, "--json", j) == 0
    doc = json.loads(j.read_text())
    assert [r["codec"] for r in doc["rows"]] == ["gzip"]
    assert any("JPEG XL" in n and "pip install imagecodecs" in n for n in doc["notes"])


def test_jpegxl_lossless_row_is_exact_and_counts_every_file(tmp_path):
    imagecodecs = pytest.importorskip("imagecodecs", reason="JPEG XL needs imagecodecs (pip install '.[bench]')")
    j = tmp_path / "b.json"
    assert run(IDX100, "--only", "jpegxl", "--nondigits", 0, "--subset", 0, "--json", j) == 0
    (row,) = json.loads(j.read_text())["rows"]
    x = read_idx(IDX100)
    files = [imagecodecs.jpegxl_encode(im, lossless=True, effort=9) for im in x]
    assert row["exact"] is True and row["images"] == len(x)
    assert row["total_bytes"] == sum(map(len, files))


def test_skipped_file_in_a_folder_warns_with_exit_2(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for f in sorted(DIGITS.rglob("*.png"))[:3]:
        (folder / f.name).write_bytes(f.read_bytes())
    (folder / "broken.png").write_bytes(b"not a png")
    assert run(folder, "--only", "gzip", "--nondigits", 0) == 2
    assert "skipped" in capsys.readouterr().err
    assert run(folder, "--only", "gzip", "--nondigits", 0, "--strict") == 1


# --- bad input and bad options: one line, exit 1, nothing written -------------


@pytest.mark.parametrize("make_args, message", [
    (lambda t: [t / "missing.png"], "missing.png: no such file or folder"),
    (lambda t: [t / "bad.png"], "bad.png: not an image Pillow can read"),
    (lambda t: [t / "bad-idx3-ubyte"], "bad-idx3-ubyte"),
    (lambda t: [DIGITS, "--only", "gzip,lzw"], "unknown codec 'lzw'"),
    (lambda t: [DIGITS, "--fit-data", t / "nowhere"], "nowhere"),
    (lambda t: [DIGITS, "--json", t / "no" / "b.json"], "does not exist"),
    (lambda t: [DIGITS, "--plot", t / "b.jpg"], "expected a .png file name"),
    (lambda t: [DIGITS, "--subset", -1], "--subset -1: must be 0 or more"),
    (lambda t: [], "no input"),
])
def test_bad_input_is_one_line_and_exit_1(tmp_path, capsys, make_args, message):
    (tmp_path / "bad.png").write_bytes(b"this is not an image")
    (tmp_path / "bad-idx3-ubyte").write_bytes(b"\x00\x00\x08\x03\x00\x00")
    assert run(*make_args(tmp_path), "--markdown", tmp_path / "b.md") == 1
    assert message in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "b.md").exists()


def test_printed_command_keeps_every_non_default_option(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("AEZIP_MNIST_DIR", str(tmp_path / "nowhere"))   # bad env: PCA falls back to the input
    assert run(IDX100, "--only", "gzip,pca", "--nondigits", 0, "--subset", 0) == 2
    cap = capsys.readouterr()
    assert (f"Made by: AEZIP_MNIST_DIR={tmp_path / 'nowhere'} aezip bench {IDX100} --subset 0 --only gzip,pca "
            "--nondigits 0\n") in cap.out
    assert "fitting PCA on the input instead" in cap.err


def test_existing_output_needs_force(tmp_path, capsys):
    m = tmp_path / "b.md"
    m.write_text("keep")
    assert run(DIGITS, "--only", "gzip", "--markdown", m) == 1
    assert "already exists (use -f to overwrite)" in one_error_line(capsys.readouterr().err)
    assert m.read_text() == "keep"
    assert run(DIGITS, "--only", "gzip", "--nondigits", 0, "--markdown", m, "-f") == 0
    assert m.read_text().startswith("# aezip bench")


def test_plot_without_matplotlib_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    assert run(DIGITS, "--only", "gzip", "--plot", tmp_path / "b.png") == 1
    assert "--plot needs matplotlib" in one_error_line(capsys.readouterr().err)
    assert not (tmp_path / "b.png").exists()


# --- pieces -------------------------------------------------------------------


def _ssim_by_loops(a, b, w=7):
    """SSIM written the slow, obvious way: every window, sample (co)variances."""
    x, y = a.astype(np.float64) / 255, b.astype(np.float64) / 255
    c1, c2, vals = 0.01 ** 2, 0.03 ** 2, []
    for i in range(x.shape[0] - w + 1):
        for j in range(x.shape[1] - w + 1):
            p, q = x[i:i + w, j:j + w].ravel(), y[i:i + w, j:j + w].ravel()
            vx, vy, cxy = p.var(ddof=1), q.var(ddof=1), np.cov(p, q)[0, 1]
            vals.append((2 * p.mean() * q.mean() + c1) * (2 * cxy + c2)
                        / ((p.mean() ** 2 + q.mean() ** 2 + c1) * (vx + vy + c2)))
    return np.mean(vals)


def test_ssim_matches_a_direct_implementation():
    imgs = read_idx(IDX100)[:3]
    rng = np.random.default_rng(1)
    noisy = np.clip(imgs.astype(int) + rng.integers(-40, 41, imgs.shape), 0, 255).astype(np.uint8)
    got = bench.ssim_per_image(imgs, noisy)
    want = [_ssim_by_loops(a, b) for a, b in zip(imgs, noisy)]
    assert got == pytest.approx(want, abs=1e-9)
    assert bench.ssim(imgs, imgs) == pytest.approx(1.0)
    assert bench.ssim(imgs, 255 - imgs) < 0


def test_nondigit_images_are_deterministic_and_unlike_digits():
    a, b = bench.nondigit_images(6), bench.nondigit_images(6)
    assert set(a) == {"letters", "noise"}
    for kind in a:
        assert a[kind].shape == (6, 28, 28) and a[kind].dtype == np.uint8
        assert np.array_equal(a[kind], b[kind])
    assert (a["letters"].reshape(6, -1).max(1) > 200).all()   # ink in every letter


@pytest.mark.slow
def test_mnist_test_set_stream_sizes_match_independent_figures(mnist_dir):
    from aezip.idx import load_mnist
    images, _ = load_mnist(mnist_dir, "test")
    rep = bench.run_bench(images, source="t10k", only=["gzip", "bzip2"])
    got = {r.codec: r.bytes_per_image for r in rep.rows}
    assert got["gzip"] == pytest.approx(160.2, rel=0.01)       # PEERS.md, measured independently
    assert got["bzip2"] == pytest.approx(138.6, rel=0.01)


def test_findings_name_a_row_once_when_its_setting_is_in_its_label():
    from aezip.bench.findings import _name
    from aezip.bench.runner import Row

    def row(label, setting):
        return Row("lossless", "c", label, setting, "archive", 1, 1, 1.0, 784.0, 1.0, None, 1.0, 1.0, 1.0, True)

    assert _name(row("aezip lossless", "lossless")) == "aezip lossless"
    assert _name(row("xz -9e (one stream)", "default")) == "xz -9e default (one stream)"
    assert _name(row("JPEG (grayscale, optimized)", "q=5")) == "JPEG q=5 (grayscale, optimized)"
