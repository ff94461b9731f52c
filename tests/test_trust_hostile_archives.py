"""Archives built by an attacker: hostile names never write outside the output
folder, and header claims are checked before anything is allocated (issue 6)."""

import os
from pathlib import Path

import pytest

import aezip
from aezip import archive, cli, container
from aezip.errors import BadAezFile
from aezip.idx import read_idx
from helpers import archive_with_names, load_script

REPO = Path(__file__).resolve().parent.parent

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
    return archive_with_names(digits[:len(names)], names)


@pytest.mark.parametrize("bad", HOSTILE_NAMES)
def test_hostile_name_is_refused(arena, digits, capsys, bad):
    work = arena / "work"
    path = work / "evil.aez"
    path.write_bytes(_archive_with(digits, ["ok.png", bad]))
    before_all = _tree(arena)
    rc = cli.run(["extract", str(path), "-o", str(work / "out")])
    err = capsys.readouterr().err
    assert rc == 1 and err.startswith("aezip: error: ") and err.count("\n") == 1, err
    assert "evil.aez: archive name 1 " in err
    assert _tree(arena) == before_all      # nothing written anywhere, not even ok.png
    assert not Path("/tmp/abs.png").exists() or bad != "/tmp/abs.png"


@pytest.mark.parametrize("names", [
    ["a.png", "a.png"],            # plain duplicate
    ["x/a.png", "y/b.png", "x/a.png"],
    ["a.png", "a.png/b.png"],      # a file that is also a folder
])
def test_duplicates_and_clashes_are_refused(arena, digits, capsys, names):
    work = arena / "work"
    path = work / "dup.aez"
    path.write_bytes(_archive_with(digits, names))
    before = _tree(arena)
    assert cli.run(["extract", str(path), "-o", str(work / "out")]) == 1
    assert cli.run(["test", str(path)]) == 1     # test refuses what extract refuses
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and err[0] == err[1] and "dup.aez: " in err[0], err
    assert _tree(arena) == before


def test_same_stem_different_suffix_is_kept_apart(arena, digits, capsys):
    """x.jpg and x.png both map to x.png: the name that already ends in .png keeps it, the
    other gets a number (x~2.png), none is lost, and extract says so."""
    work = arena / "work"
    for names in (["x.jpg", "x.png"], ["x.png", "x.jpg"]):
        path = work / "stems.aez"
        path.write_bytes(_archive_with(digits, names))
        assert cli.run(["extract", str(path), "-o", str(work / "out"), "-f"]) == 0
        assert sorted(os.listdir(work / "out")) == ["x.png", "x~2.png"]
        out = read_idx_free_png(work / "out" / "x.png")
        assert (out == aezip.decompress(path.read_bytes())[names.index("x.png")]).all()
        assert "'x.jpg': written as 'x~2.png'" in capsys.readouterr().err


def read_idx_free_png(path):
    import numpy as np
    from PIL import Image
    return np.asarray(Image.open(path))


def test_names_equal_but_for_case_or_normalization_are_refused(arena, digits, capsys):
    """A.png and a.png are two files on Linux but one on macOS/Windows, and so are the NFC
    and NFD spellings of one name: formats/aez.md §5.2 compares names after NFC + case
    folding, so such an archive is refused whole, by extract and test alike."""
    work = arena / "work"
    for names in (["A.png", "a.png"], ["b.png", "B.PNG"], ["\u00e9.png", "E\u0301.png"]):
        path = work / "case.aez"
        path.write_bytes(_archive_with(digits, names))
        for cmd in (["extract", str(path), "-o", str(work / "out")], ["test", str(path)]):
            assert cli.run(cmd) == 1
            err = capsys.readouterr().err
            assert "archive name" in err and len(err.strip().splitlines()) == 1
        assert not (work / "out").exists()


def test_odd_file_names_are_stored_so_that_extract_accepts_them(arena, digits, capsys):
    """A POSIX folder may hold names an archive reader must refuse: compress rewrites
    them (and says so), so the archive extracts."""
    from PIL import Image
    work = arena / "work"
    src = work / "src"
    src.mkdir()
    odd = ["back\\slash.png", "new\nline.png", "C:drive.png", "back_slash.png", "plain.png"]
    for i, n in enumerate(odd):
        Image.fromarray(digits[i % len(digits)]).save(src / n, format="PNG")
    assert cli.run(["compress", str(src), "-o", str(work / "odd.aez")]) == 0
    err = capsys.readouterr().err
    assert "stored as 'back_slash~2.png'" in err and "stored as 'new_line.png'" in err
    assert cli.run(["extract", "-q", str(work / "odd.aez"), "-o", str(work / "out")]) == 0
    assert sorted(os.listdir(work / "out")) == sorted(["back_slash.png", "back_slash~2.png", "new_line.png",
                                                      "C_drive.png", "plain.png"])
    assert _tree(arena / "outside") == ["keep.png"]


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


# ---- header claims (the lying archives are built in scripts/fuzz.py) -------------

fuzz = load_script("fuzz")


@pytest.fixture(scope="module")
def liars():
    """{what it claims: file bytes}, built when a test needs them (not at import)."""
    return fuzz.liars()


def test_lying_headers_are_refused(liars):
    for name, data in liars.items():
        # small files (a million one-byte Raw gaps is the largest), claiming far more
        assert len(data) < (1000 if not name.startswith("v2") else 1_100_000), name
        with pytest.raises(BadAezFile):
            archive.read(data)
        with pytest.raises(BadAezFile):
            aezip.decompress(data)


def test_lying_headers_allocate_little(liars):
    """Python-level peak allocation (tracemalloc, not BLAS- or libc-dependent) of a fresh
    process that reads every lying archive in turn: nothing sized by the claims."""
    v1 = fuzz.liars_v1()
    out = fuzz.probe_memory(v1)
    assert all(out["results"][k] == "refused" for k in v1), out
    assert out["traced_peak_mb"] < 20, out
    # version 2's liars carry up to 128 MB of honest codes (the 192 MiB held limit is passed
    # by what the next frame declares); a section's buffer is reserved at its declared size,
    # at most a §7 limit, and costs memory only where written (RSS: test_trust_memory.py)
    v2 = fuzz.liars_v2()
    out = fuzz.probe_memory(v2)
    assert all(out["results"][k] == "refused" for k in v2), out
    assert out["traced_peak_mb"] < 128 + 64 + 10, out


@pytest.mark.slow
def test_lying_headers_keep_the_process_small(liars):
    """Peak RSS of that process (interpreter, numpy, BLAS, zstandard included): a
    generous margin over the ~60 MB measured, far below what any claim would take."""
    out = fuzz.probe_memory(liars)
    assert out["peak_rss_mb"] < 400, out
