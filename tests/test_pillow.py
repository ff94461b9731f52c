"""The Pillow plugin (aezip.pillow): Image.open and Image.save of .aez files."""

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import aezip
from helpers import REPO, SAMPLE_IDX, sample_digits

VECTORS = REPO / "formats" / "vectors"
MANIFEST = json.loads((VECTORS / "manifest.json").read_text())


@pytest.fixture(scope="module", autouse=True)
def plugin():
    import aezip.pillow
    return aezip.pillow


def frames(im):
    out = []
    for i in range(im.n_frames):
        im.seek(i)
        assert im.tell() == i
        out.append(np.asarray(im))
    return np.stack(out)


def test_import_aezip_alone_registers_nothing():
    code = ("import aezip, PIL.Image as I; I.init(); "
            "print('AEZ' in I.OPEN, '.aez' in I.EXTENSION, 'aezip.pillow' in __import__('sys').modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "False", "False"]


def test_importing_the_plugin_registers_the_format():
    Image.init()
    assert "AEZ" in Image.OPEN and "AEZ" in Image.SAVE and "AEZ" in Image.SAVE_ALL
    assert Image.EXTENSION[".aez"] == "AEZ"


@pytest.mark.parametrize("name", sorted(MANIFEST["valid"]))
def test_every_valid_vector_opens_with_the_api_pixels(name):
    path = VECTORS / f"{name}.aez"
    want = aezip.decompress(path.read_bytes())
    with Image.open(path) as im:
        assert im.format == "AEZ"
        assert im.mode == "L" and im.size == (28, 28)
        assert im.n_frames == len(want) and im.is_animated == (len(want) > 1)
        header = aezip.read_header(path)
        assert im.info.get("quality") == header.quality
        assert im.info.get("model_id") == getattr(header, "model_id", None)
        np.testing.assert_array_equal(frames(im), want)


def test_cli_output_opens_with_the_api_pixels(tmp_path):
    out = tmp_path / "s.aez"
    proc = subprocess.run([sys.executable, "-m", "aezip", "compress", "-q", "--no-check", str(SAMPLE_IDX), "-o", str(out)],
                          capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stderr
    want = aezip.decompress(out.read_bytes())
    with Image.open(out) as im:
        assert im.n_frames == 100
        np.testing.assert_array_equal(frames(im), want)
        im.seek(42)
        np.testing.assert_array_equal(np.asarray(im.copy()), want[42])


def test_seek_past_the_end_raises_eoferror(tmp_path):
    path = tmp_path / "ten.aez"
    path.write_bytes(aezip.compress(sample_digits()[:10]))
    with Image.open(path) as im:
        im.seek(9)
        with pytest.raises(EOFError):
            im.seek(10)
        assert im.tell() == 9


def test_open_from_a_file_object_and_convert(tmp_path):
    (tmp_path / "one.aez").write_bytes(aezip.compress(sample_digits()[:1]))
    with open(tmp_path / "one.aez", "rb") as f, Image.open(f) as im:
        rgb = im.convert("RGB")
    assert rgb.size == (28, 28) and rgb.mode == "RGB"


@pytest.mark.parametrize("quality", [1, 5, 9])
def test_save_all_round_trips(tmp_path, quality):
    x = sample_digits()[:12]
    first, *rest = [Image.fromarray(a, "L") for a in x]
    path = tmp_path / "y.aez"
    first.save(path, save_all=True, append_images=rest, quality=quality)
    data = path.read_bytes()
    assert data == aezip.compress(x, quality=quality)  # byte-identical to the API
    assert aezip.read_header(data).quality == quality
    with Image.open(path) as im:
        np.testing.assert_array_equal(frames(im), aezip.decompress(aezip.compress(x, quality=quality)))


def test_save_one_frame_and_resave_a_multi_frame_image(tmp_path):
    x = sample_digits()[:5]
    Image.fromarray(x[0], "L").save(tmp_path / "one.aez")
    assert aezip.read_header(tmp_path / "one.aez").count == 1
    src = tmp_path / "five.aez"
    src.write_bytes(aezip.compress(x))
    with Image.open(src) as im:
        im.save(tmp_path / "again.aez", save_all=True)
    again = aezip.decompress((tmp_path / "again.aez").read_bytes())
    assert again.shape == (5, 28, 28)  # every frame, not five copies of one
    assert len({a.tobytes() for a in again}) == 5


def test_save_rejects_a_wrong_size_and_leaves_no_file(tmp_path):
    path = tmp_path / "big.aez"
    with pytest.raises(ValueError, match="frame 0 is 32x30"):
        Image.new("L", (32, 30)).save(path)
    assert not path.exists()


def test_non_aez_files_are_untouched(tmp_path):
    png = tmp_path / "d.png"
    Image.fromarray(sample_digits()[0], "L").save(png)
    with Image.open(png) as im:
        assert im.format == "PNG"
    with pytest.raises(UnidentifiedImageError) as e:
        Image.open(VECTORS / "not-aez.aez")  # a PNG signature and zeros: Pillow's PNG plugin decides
    assert not isinstance(e.value, aezip.BadAezFile)


@pytest.mark.parametrize("name", sorted(set(MANIFEST["invalid"]) - {"not-aez"}))
def test_damaged_aez_raises_unidentified_with_the_reason(name, plugin):
    path = VECTORS / f"{name}.aez"
    with pytest.raises(UnidentifiedImageError) as e:
        Image.open(path)
    assert isinstance(e.value, aezip.BadAezFile) and isinstance(e.value, plugin.AezImageError)
    msg = str(e.value)
    assert "\n" not in msg and str(path) in msg and MANIFEST["invalid"][name] in msg


def test_missing_model_fails_with_an_oserror_naming_it(tmp_path):
    # a format-version-1 vector: its model digest is bytes 8..16 (formats/aez.md), CRC-32 at the end
    v1 = next((p for p in sorted(VECTORS.glob("*.aez")) if p.stem in MANIFEST["valid"]
               and p.read_bytes()[4] == 1), None)
    if v1 is None:
        pytest.skip("no format-version-1 vector in formats/vectors")
    data = bytearray(v1.read_bytes())
    data[8:16] = bytes(8)  # a model digest nothing has
    data[-4:] = struct.pack("<I", zlib.crc32(bytes(data[:-4])))
    path = tmp_path / "orphan.aez"
    path.write_bytes(bytes(data))
    with pytest.raises(OSError, match="orphan.aez: .*0000000000000000") as e:
        Image.open(path)
    assert not isinstance(e.value, UnidentifiedImageError)  # the file is sound; the model is missing
