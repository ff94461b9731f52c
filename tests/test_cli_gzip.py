"""gzip's habits on the command line (issue 13, item 2): -d, -t, -l, -c, -1..-9, -k, a bare
FILE, default output names, no binary to a terminal, and the same exit codes with -q."""

import os
import pty
import shutil
import subprocess
import sys

import numpy as np
import pytest

import aezip
from aezip.cli import run
from aezip.cli.gzipargs import gzip_to_commands
from aezip.idx import read_idx
from helpers import SAMPLE_IDX, SAMPLES


@pytest.fixture
def digits_dir(tmp_path):
    """A copy of samples/digits/3 (3 PNGs) in tmp_path/digits."""
    d = tmp_path / "digits"
    shutil.copytree(SAMPLES / "digits" / "3", d)
    return d


@pytest.fixture
def archive(tmp_path, digits_dir):
    arc = tmp_path / "d.aez"
    assert run(["compress", str(digits_dir), "-o", str(arc), "-q"]) == 0
    return arc


def test_rewrite_table():
    assert gzip_to_commands(["-d", "a.aez", "-o", "out"]) == [["extract", "a.aez", "-o", "out"]]
    assert gzip_to_commands(["-dc", "a.aez"]) == [["extract", "-c", "a.aez"]]
    assert gzip_to_commands(["-9", "-k", "dir"]) == [["compress", "-Q", "9", "dir"]]
    assert gzip_to_commands(["--best", "--stdout", "dir"]) == [["compress", "-Q", "9", "-c", "dir"]]
    assert gzip_to_commands(["-tv", "a", "b"]) == [["test", "-v", "a", "b"]]
    assert gzip_to_commands(["-l", "a"]) == [["info", "a"]]
    assert gzip_to_commands(["-d", "a", "b", "-f"]) == [["extract", "a", "-f"], ["extract", "b", "-f"]]
    assert gzip_to_commands(["compress", "x", "-3", "-o", "-1"]) == [["compress", "x", "-Q", "3", "-o", "-1"]]
    assert gzip_to_commands(["extract", "a.aez"]) == [["extract", "a.aez"]]   # commands untouched
    assert gzip_to_commands(["extrct", "x"]) == [["extrct", "x"]]   # not a file: typer names the typo
    with pytest.raises(ValueError, match="exclude each other"):
        gzip_to_commands(["-d", "-t", "a"])


def test_bare_file_compresses_beside_it(tmp_path, digits_dir):
    assert run([str(digits_dir), "-q"]) == 0
    assert aezip.is_aez(tmp_path / "digits.aez")


def test_compress_default_name_folder_and_npy(tmp_path, digits_dir, capsys):
    assert run(["compress", str(digits_dir) + "/", "-q"]) == 0        # digits/ -> digits.aez
    assert aezip.read_header((tmp_path / "digits.aez").read_bytes()).count == 3
    np.save(tmp_path / "x.npy", read_idx(SAMPLE_IDX)[:5])
    assert run(["compress", str(tmp_path / "x.npy"), "-q"]) == 0      # x.npy -> x.npy.aez
    assert aezip.read_header((tmp_path / "x.npy.aez").read_bytes()).count == 5
    capsys.readouterr()
    before = (tmp_path / "x.npy.aez").read_bytes()
    assert run(["compress", str(tmp_path / "x.npy")]) == 1           # exists: refused without -f
    assert "already exists (use -f" in capsys.readouterr().err
    assert (tmp_path / "x.npy.aez").read_bytes() == before
    assert run(["compress", str(tmp_path / "x.npy"), "-f", "-q"]) == 0


def test_compress_several_inputs_without_o_is_refused(tmp_path, digits_dir, capsys):
    assert run(["compress", str(digits_dir), str(SAMPLE_IDX)]) == 1
    assert "name it with -o" in capsys.readouterr().err


def test_d_extracts_beside_the_archive(tmp_path, archive):
    assert run(["-d", str(archive), "-q"]) == 0                      # d.aez -> d/
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == sorted(
        p.name for p in (tmp_path / "digits").iterdir())


def test_d_on_array_archives_strips_aez(tmp_path):
    np.save(tmp_path / "x.npy", read_idx(SAMPLE_IDX)[:5])
    assert run(["-q", str(tmp_path / "x.npy")]) == 0                  # x.npy -> x.npy.aez
    (tmp_path / "x.npy").unlink()
    assert run(["-d", str(tmp_path / "x.npy.aez"), "-q"]) == 0        # x.npy.aez -> x.npy
    assert np.load(tmp_path / "x.npy").shape == (5, 28, 28)
    shutil.copy(SAMPLE_IDX, tmp_path / "t-ubyte.gz")
    assert run(["-q", "--no-check", str(tmp_path / "t-ubyte.gz")]) == 0
    (tmp_path / "t-ubyte.gz").unlink()
    assert run(["-d", str(tmp_path / "t-ubyte.gz.aez"), "-q"]) == 0   # back under the same name, gzip'd
    assert read_idx(tmp_path / "t-ubyte.gz").shape == (100, 28, 28)
    assert (tmp_path / "t-ubyte.gz").read_bytes()[:2] == b"\x1f\x8b"
    assert run(["compress", str(SAMPLE_IDX), "-o", str(tmp_path / "y.aez"), "-q", "--no-check"]) == 0
    assert run(["-d", str(tmp_path / "y.aez"), "-q"]) == 0            # y.aez of an IDX -> y.idx
    assert read_idx(tmp_path / "y.idx").shape == (100, 28, 28)


def test_d_takes_several_archives(tmp_path, archive):
    shutil.copy(archive, tmp_path / "e.aez")
    assert run(["-d", str(archive), str(tmp_path / "e.aez"), "-q"]) == 0
    assert len(list((tmp_path / "d").iterdir())) == len(list((tmp_path / "e").iterdir())) == 3


def test_t_tests_and_l_lists(archive, capsys):
    assert run(["-t", str(archive)]) == 0
    assert run(["-l", str(archive)]) == 0
    out = capsys.readouterr().out
    assert "compressed" in out and str(archive) in out
    archive.write_bytes(archive.read_bytes()[:-1])
    assert run(["-t", str(archive)]) == 1


def test_c_writes_to_stdout(tmp_path, digits_dir):
    p = subprocess.run([sys.executable, "-m", "aezip", "-c", str(digits_dir)], capture_output=True)
    assert p.returncode == 0, p.stderr
    assert aezip.decompress(p.stdout).shape == (3, 28, 28)
    assert not (tmp_path / "digits.aez").exists()
    (tmp_path / "d.aez").write_bytes(p.stdout)
    q = subprocess.run([sys.executable, "-m", "aezip", "-dc", str(tmp_path / "d.aez"), "--format", "npy"],
                       capture_output=True)
    assert q.returncode == 0, q.stderr
    import io
    assert np.load(io.BytesIO(q.stdout)).shape == (3, 28, 28)


def test_quality_digits_are_quality(tmp_path, digits_dir):
    for q in (1, 9):
        assert run([f"-{q}", str(digits_dir), "-o", str(tmp_path / f"q{q}.aez"), "-q", "--no-check"]) == 0
        assert aezip.read_header((tmp_path / f"q{q}.aez").read_bytes()).quality == q
    assert run(["compress", "-7", str(digits_dir), "-o", str(tmp_path / "q7.aez"), "-q", "--no-check"]) == 0
    assert aezip.read_header((tmp_path / "q7.aez").read_bytes()).quality == 7


def test_k_is_accepted_and_inputs_stay(tmp_path, digits_dir, archive):
    before = sorted(p.read_bytes() for p in digits_dir.iterdir())
    assert run(["-k", str(digits_dir), "-o", str(tmp_path / "k.aez"), "-q"]) == 0
    assert run(["compress", "-k", str(digits_dir), "-o", str(tmp_path / "k2.aez"), "-q"]) == 0
    assert run(["-dk", str(archive), "-q"]) == 0
    assert sorted(p.read_bytes() for p in digits_dir.iterdir()) == before and archive.exists()


def _on_a_terminal(args, cwd):
    """Run aezip with stdout on a pseudo-terminal: (exit status, stderr)."""
    master, slave = pty.openpty()
    try:
        p = subprocess.run([sys.executable, "-m", "aezip", *args], stdout=slave, stderr=subprocess.PIPE,
                           cwd=cwd, timeout=120)
    finally:
        os.close(slave)
        os.close(master)
    return p.returncode, p.stderr.decode()


def test_compressed_output_to_a_terminal_is_refused_unless_f(tmp_path, digits_dir):
    for args in (["-c", str(digits_dir)], ["compress", str(digits_dir), "-o", "-"]):
        rc, err = _on_a_terminal(args, tmp_path)
        assert rc == 1 and "not written to a terminal" in err and err.count("\n") == 1, err
    rc, err = _on_a_terminal(["-c", "-f", "-q", str(digits_dir)], tmp_path)
    assert rc == 0, err


def test_exit_codes_are_the_same_with_q(tmp_path, digits_dir, archive, capsys):
    (digits_dir / "notes.txt").write_text("not an image")          # skipped: a warning, exit 2
    for q in ([], ["-q"]):
        assert run(["compress", str(digits_dir), "-o", str(tmp_path / "w.aez"), "-f", *q]) == 2
        assert run(["extract", str(tmp_path / "missing.aez"), *q]) == 1
        assert run(["test", str(tmp_path / "missing.aez"), *q]) == 1
        assert run(["-t", str(archive), *q]) == 0
    capsys.readouterr()
    assert run(["compress", str(digits_dir), "-o", str(tmp_path / "w.aez"), "-f", "-q"]) == 2
    assert capsys.readouterr().err == ""


def test_help_shows_the_gzip_forms():
    p = subprocess.run([sys.executable, "-m", "aezip", "--help"], capture_output=True, text=True)
    text = " ".join(p.stdout.split())
    for needle in ("-d FILE.aez", "-t (test)", "-l (list", "-c / --stdout", "-1 .. -9", "-k"):
        assert needle in text, needle
    p = subprocess.run([sys.executable, "-m", "aezip", "compress", "--help"], capture_output=True, text=True)
    assert "--stdout" in p.stdout and "--keep" in p.stdout
