"""Regression tests for the command-line bugs of issue 13, item 1 (each failed before its fix)."""

import gzip
import json
import shutil
import sys

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip import zoo
from aezip.cli import run
from aezip.idx import read_idx
from helpers import SAMPLE_IDX, SAMPLES


def _pngs(folder):
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*.png"))


def test_same_folder_twice_is_numbered_with_a_warning_and_extracts(tmp_path, capsys):
    arc = tmp_path / "d.aez"
    assert run(["compress", str(SAMPLES / "digits"), str(SAMPLES / "digits"), "-o", str(arc)]) == 2
    err = capsys.readouterr().err
    assert "30 input name(s) are taken by another" in err and "'0/00003.png' stored as '0/00003~2.png'" in err
    assert run(["test", str(arc)]) == 0
    assert run(["extract", str(arc), "-o", str(tmp_path / "out"), "-q"]) == 0
    got = _pngs(tmp_path / "out")
    assert len(got) == 60 and "0/00003.png" in got and "0/00003~2.png" in got


def test_same_file_name_in_two_folders_is_numbered(tmp_path, capsys):
    digit = read_idx(SAMPLE_IDX)[0]
    for d in ("dirA", "dirB"):
        (tmp_path / d).mkdir()
        Image.fromarray(digit).save(tmp_path / d / "a.png")
    arc = tmp_path / "ab.aez"
    assert run(["compress", str(tmp_path / "dirA" / "a.png"), str(tmp_path / "dirB" / "a.png"),
                "-o", str(arc)]) == 2
    assert "'a.png' stored as 'a~2.png'" in capsys.readouterr().err
    assert run(["extract", str(arc), "-o", str(tmp_path / "out"), "-q"]) == 0
    assert _pngs(tmp_path / "out") == ["a.png", "a~2.png"]


def test_info_goes_on_past_a_bad_file_with_a_totals_line(tmp_path, capsys):
    good = tmp_path / "good.aez"
    assert run(["compress", str(SAMPLES / "digits" / "3"), "-o", str(good), "-q"]) == 0
    shutil.copy(good, tmp_path / "good2.aez")
    (tmp_path / "bad.aez").write_bytes(b"not an archive")
    capsys.readouterr()
    rc = run(["info", str(good), str(tmp_path / "bad.aez"), str(tmp_path / "good2.aez")])
    out, err = capsys.readouterr()
    assert rc == 1
    assert "bad.aez: not an .aez file" in err and err.count("\n") == 1
    lines = out.splitlines()
    assert str(tmp_path / "good2.aez") in lines[2]      # listed after the bad one
    total = lines[-1].split()
    size = 2 * good.stat().st_size
    assert total[0] == "6" and total[2] == f"{size:,}" and "(totals," in lines[-1] and "1 bad" in lines[-1]


def test_test_goes_on_past_a_bad_file_with_a_totals_line(tmp_path, capsys):
    good = tmp_path / "good.aez"
    assert run(["compress", str(SAMPLES / "digits" / "3"), "-o", str(good), "-q"]) == 0
    bad = tmp_path / "bad.aez"
    bad.write_bytes(good.read_bytes()[:-3])
    capsys.readouterr()
    assert run(["test", "-v", str(bad), str(good)]) == 1
    err = capsys.readouterr().err
    assert "bad.aez: truncated" in err or "bad.aez: checksum" in err
    assert f"{good}: OK (3 images)" in err and "1 of 2 archives OK, 1 bad" in err


@pytest.fixture
def npy_archive(tmp_path):
    np.save(tmp_path / "x.npy", read_idx(SAMPLE_IDX)[:6])
    arc = tmp_path / "x.aez"
    assert run(["compress", str(tmp_path / "x.npy"), "-o", str(arc), "-q"]) == 0
    return arc


def test_extract_o_npy_name_writes_npy(tmp_path):
    arc = tmp_path / "p.aez"   # an archive of PNGs: -o guess.npy still means one .npy file
    assert run(["compress", str(SAMPLES / "digits" / "3"), "-o", str(arc), "-q"]) == 0
    assert run(["extract", str(arc), "-o", str(tmp_path / "guess.npy"), "-q"]) == 0
    assert (tmp_path / "guess.npy").is_file()
    assert np.array_equal(np.load(tmp_path / "guess.npy"), aezip.decompress(arc.read_bytes()))
    assert run(["extract", str(arc), "-o", str(tmp_path / "guess.idx"), "-q"]) == 0
    assert np.array_equal(read_idx(tmp_path / "guess.idx"), aezip.decompress(arc.read_bytes()))


def test_extract_idx_gz_name_is_gzipped(tmp_path, npy_archive):
    want = aezip.decompress(npy_archive.read_bytes())
    for args in (["--format", "idx", "-o", str(tmp_path / "a.idx.gz")], ["-o", str(tmp_path / "b.idx.gz")]):
        assert run(["extract", str(npy_archive), *args, "-q"]) == 0
    for name in ("a.idx.gz", "b.idx.gz"):
        raw = (tmp_path / name).read_bytes()
        assert raw[:2] == b"\x1f\x8b", name
        assert np.array_equal(read_idx(tmp_path / name), want)
        assert gzip.decompress(raw)[:4] == b"\x00\x00\x08\x03"


def test_gif_and_png_of_one_stem_keep_the_real_png_name(tmp_path, capsys):
    x = read_idx(SAMPLE_IDX)
    src = tmp_path / "src"
    src.mkdir()
    Image.fromarray(x[0]).save(src / "a.gif")
    Image.fromarray(x[1]).save(src / "a.png")
    arc = tmp_path / "a.aez"
    assert run(["compress", str(src), "-o", str(arc), "-q"]) == 0
    capsys.readouterr()
    assert run(["extract", str(arc), "-o", str(tmp_path / "out")]) == 0
    assert "'a.gif': written as 'a~2.png'" in capsys.readouterr().err
    assert _pngs(tmp_path / "out") == ["a.png", "a~2.png"]
    recon = aezip.decompress(arc.read_bytes())
    names = aezip.read_header(arc.read_bytes()).names
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a.png")), recon[names.index("a.png")])
    assert np.array_equal(np.asarray(Image.open(tmp_path / "out" / "a~2.png")), recon[names.index("a.gif")])


def test_compress_refuses_to_replace_its_input_even_with_f(tmp_path, capsys):
    x = read_idx(SAMPLE_IDX)[:4]
    np.save(tmp_path / "self.npy", x)
    before = (tmp_path / "self.npy").read_bytes()
    assert run(["compress", str(tmp_path / "self.npy"), "-o", str(tmp_path / "self.npy"), "-f"]) == 1
    assert "is also an input" in capsys.readouterr().err
    assert (tmp_path / "self.npy").read_bytes() == before
    (tmp_path / "link.npy").symlink_to(tmp_path / "self.npy")    # the same file by another name
    assert run(["compress", str(tmp_path / "link.npy"), "-o", str(tmp_path / "self.npy"), "-f"]) == 1
    assert (tmp_path / "self.npy").read_bytes() == before


def test_bench_counts_the_names_compress_stores(tmp_path):
    out = tmp_path / "b.json"
    assert run(["bench", str(SAMPLES / "digits"), "--only", "aezip", "--nondigits", "0",
                "--json", str(out), "-q"]) == 0
    rows = {r["setting"]: r for r in json.loads(out.read_text())["rows"] if r["codec"] == "aezip"}
    for q in (1, 5, 9):
        arc = tmp_path / f"q{q}.aez"
        assert run(["compress", str(SAMPLES / "digits"), f"-Q{q}", "-o", str(arc), "-q"]) == 0
        assert rows[f"q{q}"]["total_bytes"] == arc.stat().st_size, q


def test_upscale_says_why_files_were_skipped(tmp_path, capsys):
    assert run(["upscale", str(SAMPLES / "digits"), "-o", str(tmp_path / "up")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no images found (30 files skipped; the first: " in err
    assert "expected a 14x14 image, found 28x28" in err
    assert run(["upscale", str(SAMPLES / "digits"), "-o", str(tmp_path / "up"), "-v"]) == 1
    err = capsys.readouterr().err
    assert err.count("expected a 14x14 image, found 28x28") == 31   # each of 30, then the error


def test_show_quality_is_honoured_or_refused(tmp_path, capsys):
    pics = {}
    for q in (1, 9):
        assert run(["show", str(SAMPLES / "digits"), f"-Q{q}", "-n", "4", "-o", str(tmp_path / f"s{q}.png"),
                    "-q"]) == 0
        pics[q] = np.asarray(Image.open(tmp_path / f"s{q}.png"))
    assert not np.array_equal(pics[1], pics[9])
    arc = tmp_path / "d.aez"
    assert run(["compress", str(SAMPLES / "digits"), "-o", str(arc), "-q"]) == 0
    capsys.readouterr()
    assert run(["show", str(arc), "-Q", "9", "-o", str(tmp_path / "a.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "-Q applies to image inputs" in err
    assert run(["show", str(SAMPLES / "digits"), "--app", "upscale", "-Q", "9", "-o", str(tmp_path / "u.png")]) == 1
    assert "does not apply to --app upscale" in capsys.readouterr().err
    assert not (tmp_path / "a.png").exists() and not (tmp_path / "u.png").exists()


def test_train_without_torch_suggests_the_pinned_cpu_build(tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)     # `import torch` raises ImportError
    assert run(["train", "--data", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "pip install torch==2.13.0, then pip install 'aezip[train]'" in err


def test_aezip_models_adds_a_folder_and_keeps_the_bundled_models(tmp_path, monkeypatch):
    """A folder as `aezip train --out` leaves it (card + weights), on AEZIP_MODELS: its model
    is found by name, and the bundled models and the quality ladder still work."""
    from aezip.grid import canonical_digest
    from aezip.weights import load_weights, save_weights
    folder = tmp_path / "trained"
    folder.mkdir()
    # a model of its own (archives name models by what they decode with, so not a byte copy)
    meta, arrays, _ = load_weights(zoo.trained_dir() / zoo.cards()["rdf32"]["weights"])
    arrays["decoder.0.bias"] = arrays["decoder.0.bias"] + np.float16(0.001)
    sha = save_weights(folder / "mine.npz", dict(meta, name="mine"), arrays)
    card = dict(zoo.cards()["rdf32"], name="mine", weights="mine.npz", sha256=sha,
                canonical_sha256=canonical_digest(meta, arrays).hex())
    (folder / "mine.json").write_text(json.dumps(card))
    monkeypatch.setenv("AEZIP_MODELS", str(folder))
    assert zoo.get_model("mine").name == "mine" and "rdf32" in zoo.cards() and "mine" in zoo.cards()
    x = read_idx(SAMPLE_IDX)[:8]
    data = aezip.AezCompressor(model="mine", step=0.75).compress(x)
    assert aezip.read_header(data).model_name == "mine"
    assert aezip.decompress(data).shape == x.shape
    assert aezip.read_header(aezip.compress(x, quality=1)).model_name == zoo.LADDER[1][0]
