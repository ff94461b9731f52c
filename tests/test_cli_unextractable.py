"""Issue 13: no sequence of `compress` inputs yields an archive that `test` passes and
`extract` refuses.  Hypothesis builds folder trees whose names collide in the ways real
trees do (the same folder twice, a.png beside A.png or a.gif, NFC beside NFD, a device
name, one name in two folders) and checks the promise end to end through the CLI."""

import shutil
import tempfile
import unicodedata
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from aezip import archive
from aezip.cli import run
from aezip.idx import read_idx
from helpers import SAMPLE_IDX

REACHED = []
DIGITS = read_idx(SAMPLE_IDX)[:8]
STEMS = ["a", "A", "b", unicodedata.normalize("NFC", "é"), unicodedata.normalize("NFD", "é"),
         "CON", "nul", "x y", "a.png", "00003", "3"]
SUFFIXES = [".png", ".PNG", ".gif", ".bmp", ".png.png"]
FOLDERS = ["", "d", "D", "train", "test", "d/e"]

file_spec = st.tuples(st.sampled_from(FOLDERS), st.sampled_from(STEMS), st.sampled_from(SUFFIXES),
                      st.integers(0, len(DIGITS) - 1))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(file_spec, min_size=1, max_size=8),
       st.lists(st.sampled_from(["root", "d", "train", "test", "file"]), min_size=1, max_size=4))
def test_what_test_passes_extract_writes(files, inputs):
    tmp = Path(tempfile.mkdtemp())
    try:
        root = tmp / "in"
        for folder, stem, suffix, i in files:
            path = root / folder / (stem + suffix)
            if path.parent.is_file():
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            if not path.is_dir():
                Image.fromarray(DIGITS[i]).save(path, format={"gif": "GIF", "bmp": "BMP"}.get(
                    suffix.rsplit(".", 1)[1].lower(), "PNG"))
        first = next(p for p in sorted(root.rglob("*")) if p.is_file())
        where = {"root": root, "d": root / "d", "train": root / "train", "test": root / "test", "file": first}
        args = [str(where[k]) for k in inputs if where[k].exists()] or [str(root)]
        out = tmp / "x.aez"
        rc = run(["compress", *args, "-o", str(out), "-q"])
        assert rc in (0, 1, 2)
        if rc == 1:
            assert not out.exists()
            return
        if run(["test", str(out), "-q"]) != 0:
            return
        count = archive.read(out.read_bytes()).count
        REACHED.append(count)
        assert run(["extract", str(out), "-o", str(tmp / "out"), "-q"]) == 0
        written = [p for p in (tmp / "out").rglob("*") if p.is_file()]
        assert len(written) == count
        assert run(["extract", str(out), "--format", "npy", "-o", str(tmp / "out.npy"), "-q"]) == 0
        assert np.load(tmp / "out.npy").shape == (count, 28, 28)
    finally:
        shutil.rmtree(tmp)


def test_the_property_reached_extract():
    """The test above is not vacuous: most of its trees got to `extract`."""
    test_what_test_passes_extract_writes()
    assert len(REACHED) >= 20 and max(REACHED) >= 4, REACHED
