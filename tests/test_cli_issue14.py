"""Issue 14 on the command line: strings from an archive never reach a terminal raw (item 2),
SIGTERM/SIGHUP clean up like Ctrl-C (item 4), `test` passes nothing `extract` refuses
(item 7), `info -v --json`, and extract writes its PNGs as it decodes (item 1)."""

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import unicodedata
from pathlib import Path, PurePosixPath

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip import container
from aezip.cli import run
from aezip.idx import read_idx
from helpers import SAMPLE_IDX, v1_archive

HIDDEN = ("\x1b", "\x07", "\x7f", "\x85", "\u202e", "\u2028")


@pytest.fixture(scope="module")
def digits():
    return read_idx(SAMPLE_IDX)[:6]


def packed(digits, names=None, **header):
    """A v1 archive of len(names) digits (container.pack), with *header* fields replaced."""
    n = len(names) if names is not None else 3
    return v1_archive(digits[:n], names, **header)


def _tree(root):
    return sorted(str(p.relative_to(root)) for p in Path(root).rglob("*"))


def _no_raw_hidden(text):
    assert not any(c in text for c in HIDDEN), repr(text)


UNEXTRACTABLE = {
    "parent": ["ok.png", "../escape.png"],
    "absolute": ["ok.png", "/tmp/abs.png"],
    "duplicate": ["a.png", "b.png", "a.png"],
    "file-and-folder": ["a.png", "a.png/b.png"],
    "long-component": ["ok.png", "x" * 300 + ".png"],
    "deep": ["ok.png", "/".join(["d"] * 100) + "/x.png"],
    "case": ["A.png", "a.png"],
    "nfc-nfd": [unicodedata.normalize("NFC", "é.png"), unicodedata.normalize("NFD", "é.png")],
    "device": ["ok.png", "CON.png"],
    "bidi": ["ok.png", "cod\u202egnp.png"],
    "del": ["ok.png", "x\x7f.png"],
    "c1": ["ok.png", "x\x85.png"],
    "escape": ["ok.png", "\x1b]0;title\x07.png"],
}


@pytest.mark.parametrize("kind", list(UNEXTRACTABLE))
def test_test_refuses_what_extract_refuses(tmp_path, digits, capsys, kind):
    path = tmp_path / "evil.aez"
    path.write_bytes(packed(digits, UNEXTRACTABLE[kind]))
    before = _tree(tmp_path)
    assert run(["test", str(path)]) == 1
    assert run(["extract", str(path), "-o", str(tmp_path / "out")]) == 1
    assert run(["extract", str(path), "--format", "npy", "-o", str(tmp_path / "out.npy")]) == 1
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 3 and err[0] == err[1] == err[2], err
    assert err[0].startswith(f"aezip: error: {path}: ")
    _no_raw_hidden(err[0])
    assert _tree(tmp_path) == before


def test_info_escapes_the_model_name(tmp_path, digits, capsys):
    path = tmp_path / "m.aez"
    path.write_bytes(packed(digits, ["\u00e9t\u00e9.png", "b.png"], model_name="rdf32\x1b]0;pwned\x07\u202e"))
    assert run(["info", "-v", str(path)]) == 0
    out = capsys.readouterr().out
    _no_raw_hidden(out)
    assert "rdf32\\x1b]0;pwned\\x07\\u202e@" in out and "\u00e9t\u00e9.png" in out
    assert run(["info", "-v", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert out.isascii() and "\\u00e9t\\u00e9.png" in out
    assert run(["info", "--json", str(path)]) == 0
    rec = json.loads(capsys.readouterr().out)
    assert rec["model"].startswith("rdf32\x1b]0;pwned\x07\u202e@") and rec["images"] == 2


def test_errors_escape_the_model_name(tmp_path, digits, capsys):
    path = tmp_path / "u.aez"
    path.write_bytes(packed(digits, model_name="\x1b[2Jgone\u202e", model_digest=b"\x01" * 8))
    assert run(["test", str(path)]) == 1
    assert run(["extract", str(path), "-o", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 2 and "not installed" in err and "\\x1b[2Jgone\\u202e@0101" in err
    _no_raw_hidden(err)


def test_compress_messages_escape_file_names(tmp_path, digits, capsys):
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(digits[0]).save(src / "x\x1b[2J.png", format="PNG")
    Image.fromarray(digits[1]).save(src / "ok.png", format="PNG")
    assert run(["compress", str(src), "-o", str(tmp_path / "a.aez"), "-v"]) == 0
    err = capsys.readouterr().err
    assert "'x\\x1b[2J.png': stored as 'x_[2J.png'" in err
    _no_raw_hidden(err)


def test_info_v_json_one_record_per_image(tmp_path, digits, capsys):
    noise = np.random.default_rng(0).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    x = np.concatenate([digits[:2], noise])
    data = aezip.AezCompressor(min_psnr=12, judge=False).compress(x, names=["a.png", "b/\u00e9.png", "noise.png"])
    path = tmp_path / "j.aez"
    path.write_bytes(data)
    assert run(["info", "-v", "--json", str(path)]) == 0
    lines = capsys.readouterr().out.splitlines()
    recs = [json.loads(line) for line in lines]
    assert [r["index"] for r in recs] == [0, 1, 2]
    assert [r["name"] for r in recs] == ["a.png", "b/\u00e9.png", "noise.png"]
    assert set(recs[0]) == {"archive", "index", "name", "psnr", "exact", "flagged", "reason"}
    stored = aezip.read_header(data).psnr
    assert recs[0]["psnr"] == stored[0] * container.PSNR_UNIT and recs[0]["exact"] is False
    assert recs[2]["exact"] is True and recs[2]["psnr"] is None     # kept losslessly by --min-psnr
    assert all(r["flagged"] is None and r["reason"] is None for r in recs)   # not judged


def test_info_v_json_shows_the_verdicts(tmp_path, digits, capsys):
    """Two digits and a noise image, judged by compress: the noise is flagged with its reasons."""
    path = tmp_path / "v.aez"
    noise = np.random.default_rng(0).integers(0, 256, (1, 28, 28), dtype=np.uint8)
    path.write_bytes(aezip.compress(np.concatenate([digits[:2], noise]), names=["a.png", "b.png", "c.png"]))
    verdicts = aezip.read_header(path.read_bytes()).verdicts
    assert run(["info", "-v", "--json", str(path)]) == 0
    recs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["flagged"] for r in recs] == [bool(v) for v in verdicts] and recs[2]["flagged"]
    assert "poor-reconstruction" in recs[2]["reason"]
    assert all(r["reason"] is None for r in recs if not r["flagged"])


def test_extract_writes_each_png_as_it_comes(tmp_path):
    """write_tree takes the PNGs from an iterator and writes each before asking for the next."""
    from aezip.outputs import write_tree
    target = tmp_path / "out"
    rels = [PurePosixPath(f"{i}.png") for i in range(5)]
    seen = []

    def contents():
        for i in range(5):
            stage = [p for p in tmp_path.iterdir() if p.name.startswith(".out.")]
            seen.append(sorted(q.name for q in stage[0].iterdir()) if stage else None)
            yield b"x%d" % i

    write_tree(target, rels, contents())
    assert seen == [[], ["0.png"], ["0.png", "1.png"], ["0.png", "1.png", "2.png"],
                    ["0.png", "1.png", "2.png", "3.png"]]
    assert sorted(p.name for p in target.iterdir()) == [f"{i}.png" for i in range(5)]


@pytest.fixture(scope="module")
def big_archive(tmp_path_factory):
    """An archive of 40,000 images (the codes of 100 digits, repeated; npy source): writing
    them as PNGs takes seconds."""
    path = tmp_path_factory.mktemp("big") / "big.aez"
    path.write_bytes(v1_archive(read_idx(SAMPLE_IDX), quality=1, count=40_000, source_form=container.SOURCE_NPY))
    return path


@pytest.mark.parametrize("sig, into_existing", [(signal.SIGTERM, False), (signal.SIGHUP, True)])
def test_signal_during_extract_leaves_nothing(tmp_path, big_archive, sig, into_existing):
    out = tmp_path / "out"
    if into_existing:
        out.mkdir()
        (out / "keep.txt").write_text("keep")
    before = _tree(tmp_path)
    p = subprocess.Popen([sys.executable, "-m", "aezip", "extract", str(big_archive), "--format", "png",
                          "-o", str(out)], stderr=subprocess.PIPE)
    stage_parent = out if into_existing else tmp_path
    deadline = time.monotonic() + 120
    while not any(q.name.startswith(".out.") for q in stage_parent.iterdir()):   # the stage exists
        assert p.poll() is None and time.monotonic() < deadline, "extract ended before it staged"
        time.sleep(0.01)
    time.sleep(0.1)   # some PNGs are in the stage
    p.send_signal(sig)
    err = p.communicate(timeout=60)[1].decode()
    assert p.returncode == 128 + sig, err
    assert f"{signal.Signals(sig).name}: stopped" in err and "Traceback" not in err, err
    assert _tree(tmp_path) == before, "left behind: " + ", ".join(sorted(set(_tree(tmp_path)) - set(before)))


def test_what_test_passes_extract_writes_even_when_png_names_must_be_cut(tmp_path, digits, capsys):
    """Valid names whose PNG name would pass 255 bytes (an extension added, or ~2) are cut to fit."""
    names = ["x" * 251 + ".gif", "x" * 251 + ".png", "a" * 255]
    path = tmp_path / "long.aez"
    path.write_bytes(packed(digits, names))
    assert run(["test", str(path)]) == 0
    assert run(["extract", str(path), "-o", str(tmp_path / "out"), "-q"]) == 0
    got = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert len(got) == 3 and all(len(n.encode()) <= 255 and n.endswith(".png") for n in got)
    assert "x" * 251 + ".png" in got
