"""Overwrites and atomicity: nothing is overwritten without -f, and a failure or
Ctrl-C in the middle of writing leaves the previous state intact (issue 6)."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aezip
from aezip import cli, outputs
from aezip.idx import read_idx

REPO = Path(__file__).resolve().parent.parent


def _state(folder):
    """{relative path: bytes or 'dir'} of everything under folder."""
    out = {}
    for p in sorted(Path(folder).rglob("*")):
        out[str(p.relative_to(folder))] = "dir" if p.is_dir() else p.read_bytes()
    return out


@pytest.fixture
def setup(tmp_path, samples):
    """An archive of 12 named images, and an output folder already holding an older
    extraction of 6 of them plus a file of the user's."""
    x = read_idx(samples / "t10k-first100-idx3-ubyte.gz")[:12]
    names = [f"{'ab'[i % 2]}/{i:02d}.png" for i in range(12)]
    arc = tmp_path / "new.aez"
    arc.write_bytes(aezip.compress(x, names=names, quality=9))
    old = tmp_path / "old.aez"
    old.write_bytes(aezip.compress(x[:6], names=names[:6], quality=1))
    out = tmp_path / "out"
    assert cli.run(["extract", "-q", str(old), "-o", str(out)]) == 0
    (out / "mine.txt").write_text("the user's own file")
    return tmp_path, arc, out


class Boom(OSError):
    pass


def _failing_replace(after, exc):
    real = os.replace
    calls = []

    def replace(src, dst):
        calls.append(dst)
        if len(calls) == after:
            raise exc
        return real(src, dst)
    return replace


def test_no_overwrite_without_force(setup, capsys):
    tmp, arc, out = setup
    before = _state(out)
    assert cli.run(["extract", str(arc), "-o", str(out)]) == 1
    assert "already exists (use -f to overwrite)" in capsys.readouterr().err
    assert _state(out) == before


def test_force_overwrites_all(setup, capsys):
    tmp, arc, out = setup
    assert cli.run(["extract", "-q", "-f", str(arc), "-o", str(out)]) == 0
    assert len(list(out.rglob("*.png"))) == 12 and (out / "mine.txt").exists()


@pytest.mark.parametrize("exc, code", [(Boom(28, "No space left on device"), 1), (KeyboardInterrupt(), 130)])
@pytest.mark.parametrize("after", [1, 5, 9, 12])
def test_failure_mid_way_into_existing_folder_restores_it(setup, monkeypatch, capsys, exc, code, after):
    tmp, arc, out = setup
    before = _state(out)
    monkeypatch.setattr(outputs.os, "replace", _failing_replace(after, exc))
    assert cli.run(["extract", "-f", str(arc), "-o", str(out)]) == code
    monkeypatch.undo()
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and ("nothing was changed" in err or "interrupted" in err), err
    assert _state(out) == before                  # old files back, no new ones, no temporaries


@pytest.mark.parametrize("after", [1, 6])
def test_failure_while_staging_a_new_folder_leaves_nothing(setup, monkeypatch, capsys, after):
    tmp, arc, out = setup
    before = _state(tmp)
    real = Path.write_bytes
    calls = []

    def write_bytes(self, data):
        calls.append(self)
        if len(calls) == after:
            raise Boom(5, "Input/output error")
        return real(self, data)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    assert cli.run(["extract", str(arc), "-o", str(tmp / "fresh")]) == 1
    monkeypatch.undo()
    assert "nothing was changed" in capsys.readouterr().err
    assert _state(tmp) == before


def test_single_file_output_survives_a_failed_overwrite(setup, monkeypatch, capsys, samples):
    tmp, arc, out = setup
    target = tmp / "x.aez"
    target.write_bytes(b"previous archive")
    src = samples / "t10k-first100-idx3-ubyte.gz"
    assert cli.run(["compress", "-q", str(src), "-o", str(target)]) == 1
    assert "already exists" in capsys.readouterr().err
    monkeypatch.setattr(outputs.os, "replace", _failing_replace(1, Boom(28, "No space left on device")))
    assert cli.run(["compress", "-q", "-f", str(src), "-o", str(target)]) == 1
    monkeypatch.undo()
    assert target.read_bytes() == b"previous archive"
    assert sorted(os.listdir(tmp)) == sorted(["new.aez", "old.aez", "out", "x.aez"])


SIGINT_CHILD = r"""
import os, signal, sys
sys.path.insert(0, sys.argv[1])
from aezip import cli, outputs
real, n = os.replace, [0]
def replace(src, dst):
    n[0] += 1
    if n[0] == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGINT)   # a real Ctrl-C, delivered mid-way
    return real(src, dst)
outputs.os.replace = replace
sys.exit(cli.run(sys.argv[3:]))
"""


@pytest.mark.parametrize("after", [2, 7])
def test_sigint_mid_way_leaves_previous_state(setup, after):
    tmp, arc, out = setup
    before = _state(out)
    res = subprocess.run([sys.executable, "-c", SIGINT_CHILD, str(REPO), str(after),
                          "extract", "-f", str(arc), "-o", str(out)],
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 130, res.stderr
    assert res.stderr.strip() == "aezip: interrupted"
    assert _state(out) == before
