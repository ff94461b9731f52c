"""The command line, end to end: the installed `aezip` command and `python -m aezip`."""

import gzip
import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip.cli import run
from aezip.idx import read_idx
from helpers import SAMPLE_IDX, SAMPLES, heavy_imports

AEZIP = shutil.which("aezip") or "aezip"


def cli(*args, input=None, cwd=None):
    return subprocess.run([sys.executable, "-m", "aezip", *map(str, args)], input=input,
                          capture_output=True, cwd=cwd)


def one_line_error(proc_or_err, *needles):
    err = proc_or_err if isinstance(proc_or_err, str) else proc_or_err.stderr.decode()
    lines = [l for l in err.splitlines() if l.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("aezip: error: "), err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], lines[0]


def test_installed_command_version():
    out = subprocess.run([AEZIP, "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.strip() == f"aezip {aezip.__version__}"


def test_folder_roundtrip_keeps_names(tmp_path):
    arc = tmp_path / "d.aez"
    p = cli("compress", SAMPLES / "digits", "-o", arc)
    assert p.returncode == 0, p.stderr
    assert "30 images" in p.stderr.decode()
    p = cli("extract", arc, "-o", tmp_path / "out")
    assert p.returncode == 0, p.stderr
    got = sorted(q.relative_to(tmp_path / "out").as_posix() for q in (tmp_path / "out").rglob("*.png"))
    want = sorted(q.relative_to(SAMPLES / "digits").as_posix() for q in (SAMPLES / "digits").rglob("*.png"))
    assert got == want
    img = np.asarray(Image.open(tmp_path / "out" / want[0]))
    assert img.shape == (28, 28) and img.dtype == np.uint8


def test_default_extract_target_is_archive_stem(tmp_path):
    arc = tmp_path / "digits.aez"
    assert run(["compress", str(SAMPLES / "digits" / "7"), "-o", str(arc), "-q"]) == 0
    assert run(["extract", str(arc), "-q"]) == 0
    assert len(list((tmp_path / "digits").rglob("*.png"))) == 3


def test_idx_input_comes_back_as_idx(tmp_path):
    arc = tmp_path / "t.aez"
    assert run(["compress", str(SAMPLE_IDX), "-o", str(arc), "-q", "--no-check"]) == 0
    assert run(["extract", str(arc), "-q"]) == 0
    out = read_idx(tmp_path / "t.idx")
    assert out.shape == (100, 28, 28)
    assert np.array_equal(out, aezip.decompress(arc.read_bytes()))


def test_npy_input_and_format_option(tmp_path):
    x = read_idx(SAMPLE_IDX)[:7]
    np.save(tmp_path / "x.npy", x)
    arc = tmp_path / "x.aez"
    assert run(["compress", str(tmp_path / "x.npy"), "-o", str(arc), "-q"]) == 0
    assert run(["extract", str(arc), "-q"]) == 1  # x.npy is the input: never overwritten
    assert np.array_equal(np.load(tmp_path / "x.npy"), x)
    assert run(["extract", str(arc), "-q", "-o", str(tmp_path / "y.npy")]) == 0
    assert np.load(tmp_path / "y.npy").shape == (7, 28, 28)
    assert run(["extract", str(arc), "--format", "png", "-o", str(tmp_path / "pngs"), "-q"]) == 0
    assert len(list((tmp_path / "pngs").glob("*.png"))) == 7


def test_stdin_stdout(tmp_path):
    raw = SAMPLE_IDX.read_bytes()
    p = cli("compress", "-", "-o", "-", input=raw)
    assert aezip.is_aez(p.stdout)
    # exit 2 exactly when the digit check flagged an image (2 of these 100 at q5): a warning
    flagged = aezip.read_header(p.stdout).verdicts
    assert p.returncode == (0 if flagged is None else 2), p.stderr
    assert (b"do not look like digits" in p.stderr) == (flagged is not None)
    q = cli("extract", "-", "-o", "-", "--format", "npy", input=p.stdout)
    assert q.returncode == 0, q.stderr
    assert np.load(io.BytesIO(q.stdout)).shape == (100, 28, 28)


def test_identical_input_identical_bytes(tmp_path):
    for name in ("a.aez", "b.aez"):
        assert run(["compress", str(SAMPLES / "digits"), "-o", str(tmp_path / name), "-q"]) == 0
    assert (tmp_path / "a.aez").read_bytes() == (tmp_path / "b.aez").read_bytes()


def test_refuses_to_overwrite_without_f(tmp_path, capsys):
    arc = tmp_path / "d.aez"
    arc.write_bytes(b"precious")
    assert run(["compress", str(SAMPLES / "digits"), "-o", str(arc)]) == 1
    one_line_error(capsys.readouterr().err, str(arc), "already exists")
    assert arc.read_bytes() == b"precious"
    assert run(["compress", str(SAMPLES / "digits"), "-o", str(arc), "-f", "-q"]) == 0
    assert aezip.is_aez(arc)


def test_extract_refuses_existing_files(tmp_path, capsys):
    arc = tmp_path / "d.aez"
    assert run(["compress", str(SAMPLES / "digits" / "3"), "-o", str(arc), "-q"]) == 0
    out = tmp_path / "out"  # names are relative to the folder compressed: 00018.png, ...
    out.mkdir()
    victim = out / "00018.png"
    victim.write_bytes(b"keep")
    assert run(["extract", str(arc), "-o", str(out)]) == 1
    one_line_error(capsys.readouterr().err, "00018.png", "already exists")
    assert victim.read_bytes() == b"keep"
    assert sorted(p.name for p in out.iterdir()) == ["00018.png"]
    assert run(["extract", str(arc), "-o", str(out), "-f", "-q"]) == 0
    assert len(list(out.iterdir())) == 3


def test_info_and_test(tmp_path):
    arc = tmp_path / "d.aez"
    assert run(["compress", str(SAMPLES / "digits"), "-o", str(arc), "-q"]) == 0
    p = cli("info", "-v", arc)
    assert p.returncode == 0
    text = p.stdout.decode()
    default = aezip.zoo.LADDER[aezip.zoo.DEFAULT_QUALITY][0]
    assert f"{default}@" in text and "0/00003.png" in text and " dB" in text
    assert f"quality {aezip.zoo.DEFAULT_QUALITY} = {default} at step" in text and "on the MNIST test set" in text
    assert f"{arc.stat().st_size:,}" in text
    assert cli("test", arc).returncode == 0


def test_test_detects_damage(tmp_path):
    arc = tmp_path / "d.aez"
    assert run(["compress", str(SAMPLES / "digits"), "-o", str(arc), "-q"]) == 0
    data = bytearray(arc.read_bytes())
    data[40] ^= 0x10
    arc.write_bytes(bytes(data))
    p = cli("test", arc)
    assert p.returncode == 1
    one_line_error(p, "checksum mismatch")


def test_models_lists_mlp9_with_measured_numbers():
    p = cli("models")
    assert p.returncode == 0
    text = p.stdout.decode()
    assert "mlp9@" in text and "(default)" in text and "dB" in text


@pytest.mark.parametrize("make,needle", [
    (lambda d: (d / "empty").mkdir() or d / "empty", "empty folder"),
    (lambda d: d / "missing", "no such file or folder"),
    (lambda d: (d / "c.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 20) and d / "c.png", "c.png"),
    (lambda d: (d / "n.aez").write_bytes(b"hello") and d / "n.aez", "n.aez"),
])
def test_compress_bad_input_one_line_no_output(tmp_path, make, needle):
    src = make(tmp_path)
    out = tmp_path / "o.aez"
    p = cli("compress", src, "-o", out)
    assert p.returncode == 1
    one_line_error(p, needle)
    assert not out.exists()
    assert not [q for q in tmp_path.iterdir() if q.name.startswith(".o.aez")]


def test_extract_non_aez(tmp_path):
    bad = tmp_path / "x.aez"
    bad.write_bytes(b"GIF89a not an archive")
    p = cli("extract", bad)
    assert p.returncode == 1
    one_line_error(p, "not an .aez file")
    assert not (tmp_path / "x").exists()


def test_non_image_in_folder_is_skipped_with_warning(tmp_path, capsys):
    d = tmp_path / "in"
    shutil.copytree(SAMPLES / "digits" / "1", d)
    (d / "notes.txt").write_text("hello")
    out = tmp_path / "o.aez"
    assert run(["compress", str(d), "-o", str(out)]) == 2
    assert "notes.txt" in capsys.readouterr().err
    assert aezip.read_header(out).count == 3
    assert run(["compress", str(d), "-o", str(tmp_path / "s.aez"), "--strict"]) == 1
    assert not (tmp_path / "s.aez").exists()


@pytest.mark.parametrize("mode", ["I;16", "RGBA", "P", "CMYK", "RGB", "1", "LA"])
def test_odd_image_modes_are_read(tmp_path, mode):
    x = read_idx(SAMPLE_IDX)[0]
    rgb = Image.fromarray(255 - x).convert("RGB").resize((90, 70))  # dark ink on light paper, not 28x28
    if mode == "I;16":
        img = Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257)
    else:
        img = rgb.convert(mode)
    ext = ".tif" if mode in ("CMYK", "I;16") else ".png"
    img.save(tmp_path / f"a{ext}")
    out = tmp_path / "o.aez"
    p = cli("compress", tmp_path / f"a{ext}", "-o", out)
    assert p.returncode in (0, 2), p.stderr
    assert "1 image(s) were not 28x28" in p.stderr.decode()
    y = aezip.decompress(out.read_bytes())[0]
    assert y.mean() < 80  # white ink on black after preprocessing


@pytest.mark.parametrize("args,needle", [
    (["compress", str(SAMPLES / "digits"), "-o", "x.aez", "-Q", "0"], "--quality"),
    (["compress"], "Missing argument"),
    (["bogus"], "No such command"),
    (["extract", "--nope", "x"], "No such option: --nope"),
])
def test_usage_errors_are_one_line_exit_1(tmp_path, args, needle):
    p = cli(*args, cwd=tmp_path)
    assert p.returncode == 1
    one_line_error(p, needle)
    assert not (tmp_path / "x.aez").exists()


def test_single_image_to_a_named_png(tmp_path):
    arc = tmp_path / "one.aez"
    assert run(["compress", str(SAMPLES / "digits" / "0" / "00003.png"), "-o", str(arc), "-q"]) == 0
    assert run(["extract", str(arc), "-o", str(tmp_path / "one.png"), "-q"]) == 0
    img = Image.open(tmp_path / "one.png")
    assert img.size == (28, 28)
    assert run(["extract", str(arc), "-o", str(tmp_path / "one.png"), "-q"]) == 1  # exists: needs -f


def test_version_compress_and_extract_import_neither_torch_nor_matplotlib(tmp_path):
    arc, out = tmp_path / "d.aez", tmp_path / "out"
    stmts = (f"from aezip.cli import run; assert run(['--version']) == 0; "
             f"assert run(['compress', {str(SAMPLES / 'digits')!r}, '-q', '-o', {str(arc)!r}]) == 0; "
             f"assert run(['extract', {str(arc)!r}, '-q', '-o', {str(out)!r}]) == 0")
    assert heavy_imports(stmts) == []
    assert len(list(out.rglob("*.png"))) == 30


def test_version_answers_before_numpy_loads():
    code = "import sys; from aezip.cli import run; run(['--version']); print('numpy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0 and out.stdout.splitlines() == [f"aezip {aezip.__version__}", "False"], out


def _boom():
    raise RuntimeError("boom")


def test_internal_error_is_one_line(monkeypatch, capsys):
    from aezip.cli import models as models_cmd
    monkeypatch.setattr(models_cmd, "cards", _boom)
    monkeypatch.delenv("AEZIP_DEBUG", raising=False)
    assert run(["models"]) == 1
    one_line_error(capsys.readouterr().err, "internal error: RuntimeError: boom")


def test_debug_switch_shows_the_traceback(monkeypatch, capsys):
    from aezip.cli import models as models_cmd
    monkeypatch.setattr(models_cmd, "cards", _boom)
    monkeypatch.setenv("AEZIP_DEBUG", "1")
    with pytest.raises(RuntimeError, match="boom"):
        run(["models"])
    proc = cli("models", cwd="/")  # no monkeypatch there: AEZIP_DEBUG changes nothing when all is well
    assert proc.returncode == 0
