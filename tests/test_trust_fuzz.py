"""Property tests of the reader: for any bytes, decompress returns images or
raises BadAezFile; UnknownModel only for a well-formed file naming a model that
is not installed (issue 6: fuzzing).  The long run is scripts/fuzz.py.

Decision (documented in bench/trust.md): UnknownModel is not a BadAezFile.  A
file that passes every structural check but names weights we do not have is
not damaged; the right answer is "install model X", not "the file is corrupt".
"""

import struct
import warnings
import zlib

import numpy as np
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import aezip
from aezip import archive, codedicts, container, container_v2
from aezip.errors import BadAezFile, UnknownModel
from aezip.idx import read_idx

SETTINGS = settings(max_examples=300, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow])


def _seeds():
    from pathlib import Path
    x = read_idx(Path(__file__).resolve().parent.parent / "samples" / "t10k-first100-idx3-ubyte.gz")
    names = [f"d{i % 3}/{i:03d}.png" for i in range(10)]
    return [
        aezip.compress(x[:10]),
        aezip.compress(x[:10], names=names, min_psnr=20),
        aezip.compress(x[:3], quality=9, min_psnr=18),
        aezip.compress(x[:30], names=[f"{i % 10}/{3 * i:05d}.png" for i in range(30)]),   # dictionary frame, tokenized names
    ]


SEEDS = _seeds()
DECODER = aezip.AezDecompressor()


def _fix_crc(body):
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def _contract(data):
    """The reader's contract for one input; returns what happened."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")      # a numpy RuntimeWarning is a finding too
        try:
            images = DECODER.decompress(data)
        except UnknownModel:
            archive.read(data)         # must be a well-formed file
            return "unknown-model"
        except BadAezFile as e:
            assert str(e) and "\n" not in str(e)
            return "bad"
    h = archive.read(data)
    assert images.dtype == np.uint8 and images.shape == (h.count, h.height, h.width)
    return "ok"


@SETTINGS
@given(st.binary(max_size=600))
def test_random_bytes(data):
    _contract(data)


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_with_magic_version_and_crc(rest):
    """Past the magic, version and checksum: the header parser gets random fields."""
    assert _contract(_fix_crc(container.MAGIC + b"\x01" + rest)) in ("bad", "unknown-model", "ok")


@SETTINGS
@given(st.integers(0, len(SEEDS) - 1),
       st.lists(st.tuples(st.integers(5, 10_000), st.integers(0, 255)), min_size=1, max_size=6))
def test_mutated_archives_with_recomputed_crc(which, changes):
    body = bytearray(SEEDS[which][:-4])
    for pos, value in changes:
        body[pos % len(body)] = value
    _contract(_fix_crc(body))


@SETTINGS
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 10_000), st.binary(max_size=40),
       st.integers(0, 64))
def test_spliced_archives_with_recomputed_crc(which, at, insert, cut):
    body = SEEDS[which][:-4]
    at %= len(body)
    _contract(_fix_crc(body[:at] + insert + body[at + cut:]))


@SETTINGS
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 3), st.data())
def test_reframed_sections(which, section, data):
    """Mutate the data of a section, store it or re-frame it in zstd, fix lengths and CRC:
    the codes/names/psnr/raw parsers get the hostile input, not zstd."""
    src = SEEDS[which]
    index = section % len(archive.section_spans(src))
    plain = bytearray(archive.section_data(src, index))
    for _ in range(data.draw(st.integers(1, 4))):
        op = data.draw(st.sampled_from(["set", "insert", "delete"]))
        i = data.draw(st.integers(0, max(len(plain) - 1, 0)))
        if op == "set" and plain:
            plain[i] = data.draw(st.integers(0, 255))
        elif op == "insert":
            plain[i:i] = data.draw(st.binary(min_size=1, max_size=8))
        else:
            del plain[i:i + data.draw(st.integers(1, 8))]
    if data.draw(st.booleans()):
        frame = zstandard.ZstdCompressor(level=1, write_content_size=data.draw(st.booleans())).compress(bytes(plain))
        _contract(archive.replace_section(src, index, frame, container_v2.ZSTD))
    else:
        _contract(archive.replace_section(src, index, bytes(plain), container_v2.STORED))


DICT_SEED = SEEDS[3]


def test_dict_seed_has_the_new_layouts():
    """The seed the two tests below mutate holds a Codes dictionary frame (§5.1.1) and
    tokenized Names (§5.2.1)."""
    _, start, end, method = archive.section_layout(DICT_SEED)[0]
    assert method == container_v2.ZSTD and codedicts.is_dict_frame(DICT_SEED[start:end])
    _, start, _, method = archive.section_layout(DICT_SEED)[1]
    assert method == container_v2.STORED and DICT_SEED[start] == container_v2.NAMES_TOKENIZED


@SETTINGS
@given(st.data())
def test_wrong_dictionary_frames(data):
    """A Codes dictionary frame of mutated codes, of the codes under another level's
    dictionary, or with its own bytes changed."""
    h = archive.read(DICT_SEED)._v2.header
    plain = bytearray(archive.section_data(DICT_SEED, 0))
    how = data.draw(st.sampled_from(["codes", "level", "bytes"]))
    if how == "codes":
        i = data.draw(st.integers(0, len(plain)))
        plain[i:i + data.draw(st.integers(0, 9))] = data.draw(st.binary(max_size=9))
        frame = codedicts.dict_frame(bytes(plain), h.model_digest, h.level)
    elif how == "level":
        other = data.draw(st.sampled_from([e for k, e in sorted(codedicts.manifest().items())
                                           if k != codedicts.key(h.model_digest, h.level)]))
        frame = codedicts.dict_frame(bytes(plain), bytes.fromhex(other["model_digest"]), other["level"])
    else:
        _, start, end, _ = archive.section_layout(DICT_SEED)[0]
        frame = bytearray(DICT_SEED[start:end])
        frame[data.draw(st.integers(0, len(frame) - 1))] = data.draw(st.integers(0, 255))
    _contract(archive.replace_section(DICT_SEED, 0, bytes(frame), container_v2.ZSTD))


@SETTINGS
@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 10**9 - 1)), min_size=0, max_size=60),
       st.integers(1, 9), st.binary(max_size=6), st.integers(0, 200))
def test_tokenized_names(names, width, noise, at):
    """Tokenized Names that share a template but collide, overflow their width or number
    too few or too many, sometimes with bytes changed."""
    text = [f"{d}/{v % 10 ** width:0{width}d}.png" for d, v in names] or ["a"]
    blob = container_v2.names_tokenized(text) or container_v2.names_blob(text)
    at = 1 + at % len(blob)
    blob = blob[:at] + noise + blob[at + len(noise) // 2:]
    _contract(archive.replace_section(DICT_SEED, 1, blob, container_v2.STORED))


def test_unknown_model_only_for_well_formed_files():
    body = bytearray(SEEDS[0][:-4])
    body[7:15] = b"\x00" * 8               # a digest no installed model has (version 2: offset 7)
    data = _fix_crc(body)
    with pytest.raises(UnknownModel, match=r"needs the model with digest 0000000000000000"):
        DECODER.decompress(data)
    assert _contract(data) == "unknown-model"


@SETTINGS
@given(st.binary(max_size=400))
def test_random_bytes_with_magic_version_2_and_crc(rest):
    """Past the magic, version 2 and the checksum: the version 2 header parser gets random fields."""
    assert _contract(_fix_crc(container.MAGIC + b"\x02" + rest)) in ("bad", "unknown-model", "ok")


@pytest.mark.parametrize("i", range(len(SEEDS)))
def test_seeds_decode(i):
    assert _contract(SEEDS[i]) == "ok"
