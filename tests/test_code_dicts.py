"""Code dictionaries (formats/aez.md §5.1.1, Appendix C): a few images' Codes section coded
with the zstd dictionary of (model digest, level)."""

import hashlib
import json

import numpy as np
import pytest

import aezip
from aezip import archive, codedicts, container_v2 as v2, zoo
from aezip.codec import AezCompressor
from aezip.errors import BadAezFile

from helpers import REPO, sample_digits as first_test_digits
from test_small_layouts import sample_digits

DICTS = REPO / "trained" / "codedicts"


@pytest.fixture(scope="module")
def digits():
    return first_test_digits()


def codes_content(data):
    _, start, end, method = archive.section_layout(data)[0]
    return method, bytes(data[start:end])


def test_every_ladder_level_has_a_published_dictionary_whose_bytes_match():
    man = json.loads((DICTS / "manifest.json").read_text())["dictionaries"]
    spec = (REPO / "formats" / "aez.md").read_text()
    for level in range(1, 10):
        model = zoo.get_codec_model(zoo.ladder_row(level)[0])
        entry = man[codedicts.key(model.digest, level)]
        data = (DICTS / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data[:4] == bytes.fromhex("37a430ec")               # zstd dictionary magic
        assert f"| {level} | {model.name} | `{model.digest.hex()}` | `{entry['file']}` | `{entry['sha256']}` |" in spec


def test_a_changed_dictionary_file_is_refused(tmp_path, monkeypatch):
    man = json.loads((DICTS / "manifest.json").read_text())
    k = next(iter(man["dictionaries"]))
    (tmp_path / "manifest.json").write_text(json.dumps(man))
    data = bytearray((DICTS / man["dictionaries"][k]["file"]).read_bytes())
    data[-1] ^= 1
    (tmp_path / man["dictionaries"][k]["file"]).write_bytes(bytes(data))
    monkeypatch.setattr(codedicts, "_dir", lambda: tmp_path)
    monkeypatch.setattr(codedicts, "_manifest", None)
    monkeypatch.setattr(codedicts, "_loaded", {})
    digest, level = bytes.fromhex(k.split("-")[0]), int(k.split("q")[1])
    with pytest.raises(RuntimeError, match="must never change"):
        codedicts.dictionary(digest, level)


@pytest.mark.parametrize("level", range(1, 10))
def test_small_batches_use_the_dictionary_and_round_trip(level, digits):
    x = digits[:30]
    data = aezip.compress(x, quality=level)
    method, content = codes_content(data)
    assert method == v2.ZSTD and codedicts.is_dict_frame(content)
    comp = AezCompressor(level)
    codes, _ = comp.encode(x)
    assert (aezip.decompress(data) == comp.decode(codes)).all()
    assert (archive.read(data).codes(comp.model, comp.grid) == codes).all()


def test_the_30_sample_digits_at_q5_take_at_most_12_bytes_an_image():
    """Issue 13's target, whole file through the API as the CLI writes it (names, Psnr)."""
    x, names = sample_digits()
    data = aezip.compress(x, quality=5, names=names)
    assert len(data) <= 12 * 30, len(data)
    assert codedicts.is_dict_frame(codes_content(data)[1])


def test_without_a_dictionary_the_writer_falls_back_and_large_batches_never_use_one(monkeypatch, digits):
    assert codedicts.MAX_DICT_IMAGES < 2100
    x = digits[:30]
    with_dict = aezip.compress(x, quality=5)
    images = aezip.decompress(with_dict)
    big = aezip.compress(np.concatenate([x] * 70), quality=5)   # 2,100 images: beyond MAX_DICT_IMAGES
    assert not codedicts.is_dict_frame(codes_content(big)[1])
    monkeypatch.setattr(codedicts, "_loaded", {codedicts.key(zoo.get_codec_model("rdf32").digest, 5): None})
    plain = aezip.compress(x, quality=5)
    assert not codedicts.is_dict_frame(codes_content(plain)[1]) and len(plain) > len(with_dict)
    assert (aezip.decompress(plain) == images).all()
    # a reader without the dictionary says which one it needs
    with pytest.raises(BadAezFile, match=r"no code dictionary is installed for model digest [0-9a-f]{16} at level 5"):
        aezip.decompress(with_dict)


def test_custom_tables_never_use_a_dictionary(digits):
    data = AezCompressor(step=0.9).compress(digits[:30])
    assert not codedicts.is_dict_frame(codes_content(data)[1])


def test_a_dictionary_frame_at_level_0_or_in_another_section_is_refused(digits):
    data = aezip.compress(digits[:30], quality=5, names=[f"d{i}.png" for i in range(30)])
    _, content = codes_content(data)
    custom = AezCompressor(step=0.75).compress(digits[:30])
    with pytest.raises(BadAezFile, match="at level 0"):
        aezip.decompress(archive.replace_section(custom, 0, content, v2.ZSTD))
    names = archive.replace_section(data, 1, content, v2.ZSTD)   # a dictionary frame as the Names section
    with pytest.raises(BadAezFile, match="names section is not a zstd frame"):
        aezip.decompress(names)


def test_a_dictionary_frame_that_names_a_dictionary_id_or_lies_about_its_size_is_refused(digits):
    import zstandard
    data = aezip.compress(digits[:30], quality=5)
    rows = np.ascontiguousarray(AezCompressor(5).encode(digits[:30])[0].T).tobytes()
    d = codedicts.dictionary(zoo.get_codec_model("rdf32").digest, 5)
    named = zstandard.ZstdCompressor(dict_data=d, write_dict_id=True, write_checksum=False).compress(rows)
    with pytest.raises(BadAezFile, match="names dictionary"):
        aezip.decompress(archive.replace_section(data, 0, named[4:], v2.ZSTD))
    short = zstandard.ZstdCompressor(dict_data=d, write_dict_id=False).compress(rows[:-32])
    with pytest.raises(BadAezFile, match="codes section"):
        aezip.decompress(archive.replace_section(data, 0, short[4:], v2.ZSTD))
