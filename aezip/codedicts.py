"""Code dictionaries: one zstd dictionary per (codec model digest, quality level), so that a
few images' Codes section need not carry its own entropy tables (formats/aez.md §5.1.1 and
Appendix C).

A dictionary frame is a zstd frame made with the dictionary, written without its 4-byte
magic number and without a dictionary id: the file's Model_Digest and Level name the
dictionary, and a real zstd frame's first byte (0x28) tells the two kinds apart.  The
dictionaries live in ``trained/codedicts/`` and never change once published: an archive
written with one needs exactly those bytes, so their SHA-256s are pinned in the manifest
(and in formats/aez.md Appendix C), checked on every load, and a new model gets new ones.
"""

import hashlib
import json

import zstandard

__all__ = ["ZSTD_MAGIC", "MAX_DICT_IMAGES", "dictionary", "dict_frame", "is_dict_frame",
           "with_magic", "manifest", "key"]

ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"   # RFC 8878 frame magic, little-endian 0xFD2FB528
MAX_DICT_IMAGES = 2048   # the writer tries a dictionary frame for at most this many images
DICT_LEVEL = 19          # zstd level of a dictionary frame


def _dir():
    from .zoo import trained_dir   # zoo imports the container, which imports this module

    return trained_dir() / "codedicts"


def key(digest, level):
    """Manifest key of (8-byte model digest, level): ``<digest hex>-q<level>``."""
    return f"{bytes(digest).hex()}-q{int(level)}"


_manifest = None


def manifest():
    """{key: {"file", "sha256", "model", ...}} of the installed dictionaries ({} when none)."""
    global _manifest
    if _manifest is None:
        path = _dir() / "manifest.json"
        _manifest = json.loads(path.read_text())["dictionaries"] if path.is_file() else {}
    return _manifest


_loaded = {}


def dictionary(digest, level):
    """The :class:`zstandard.ZstdCompressionDict` of (model digest, level), or None when
    none is installed.  A file whose SHA-256 differs from the manifest's is refused."""
    k = key(digest, level)
    if k not in _loaded:
        entry = manifest().get(k)
        if entry is None:
            _loaded[k] = None
        else:
            path = _dir() / entry["file"]
            data = path.read_bytes()
            got = hashlib.sha256(data).hexdigest()
            if got != entry["sha256"]:
                raise RuntimeError(f"{path}: SHA-256 {got} is not the published {entry['sha256']} "
                                   "(code dictionaries must never change)")
            _loaded[k] = zstandard.ZstdCompressionDict(data, dict_type=zstandard.DICT_TYPE_FULLDICT)
    return _loaded[k]


def dict_frame(data, digest, level):
    """The dictionary frame (without its magic) of *data*, or None when (digest, level) has
    no dictionary."""
    d = dictionary(digest, level)
    if d is None:
        return None
    params = zstandard.ZstdCompressionParameters.from_level(
        DICT_LEVEL, source_size=len(data), dict_size=len(d), write_checksum=0, write_content_size=1,
        write_dict_id=0)
    frame = zstandard.ZstdCompressor(dict_data=d, compression_params=params).compress(data)
    assert frame[:4] == ZSTD_MAGIC
    return frame[4:]


def is_dict_frame(content):
    """Whether a zstd-method Codes section holds a dictionary frame (§5.1.1): its first byte
    is not 0x28.  A real frame's Frame_Header_Descriptor never is 0x28 (bit 3 is reserved, 0)."""
    return len(content) > 0 and content[0] != ZSTD_MAGIC[0]


def with_magic(content):
    """A dictionary frame as a regular zstd frame: the magic, then its bytes."""
    return ZSTD_MAGIC + bytes(content)
