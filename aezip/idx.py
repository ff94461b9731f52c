"""Read and write the IDX files MNIST is distributed in (no torch, no torchvision).

An IDX file is a 4-byte magic ``00 00 TT DD`` (TT the element type, 0x08 for
unsigned bytes; DD the number of dimensions), then DD big-endian u32 sizes,
then the elements.  Files may be gzip-compressed (``.gz``); every reader here gunzips
within the MAX_GUNZIP limit, so a gzip bomb is refused before it expands.
"""

import gzip
import hashlib
import struct
import zlib
from pathlib import Path

import numpy as np

from .errors import BadData

__all__ = ["read_idx", "parse_idx", "parse_idx_bytes", "gunzip", "is_gzip", "looks_like_idx", "is_idx_name",
           "write_idx", "find_mnist", "load_mnist", "MNIST_FILES", "MAX_GUNZIP", "sha256_file"]

UBYTE = 0x08
GZIP_MAGIC = b"\x1f\x8b"
MAX_ELEMENTS = 1 << 31  # refuse headers that claim more than 2 GiB of pixels

# The standard file names, as torchvision downloads them into MNIST/raw/.
MNIST_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}


MAX_GUNZIP = 1 << 30   # a .gz input may not expand beyond this (a gzip bomb is refused early)


def gunzip(data, name="<bytes>", limit=None):
    """gzip bytes (one or more members) -> bytes, refusing a stream that expands
    beyond *limit* (default MAX_GUNZIP) before it does."""
    limit = MAX_GUNZIP if limit is None else limit
    out, size, pos, step = [], 0, 0, 1 << 16
    while True:
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            pending = b""
            while not d.eof and (pending or pos < len(data)):
                if not pending:
                    pending, pos = data[pos:pos + step], pos + step
                chunk = d.decompress(pending, limit + 1 - size)
                pending = d.unconsumed_tail
                size += len(chunk)
                out.append(chunk)
                if size > limit:
                    raise BadData(f"{name}: gzip stream expands beyond {limit} bytes (refused)")
        except zlib.error as e:
            raise BadData(f"{name}: corrupt gzip stream ({e})") from None
        if not d.eof:
            raise BadData(f"{name}: truncated gzip stream")
        rest = d.unused_data + pending + data[pos:]
        if rest[:2] != GZIP_MAGIC:
            if rest.strip(b"\x00"):
                raise BadData(f"{name}: {len(rest)} bytes of garbage after the gzip stream")
            return b"".join(out)
        data, pos = rest, 0


def is_gzip(data):
    return data[:2] == GZIP_MAGIC


def looks_like_idx(data):
    """True when *data* starts like an unsigned-byte IDX file (raw or gzip)."""
    return is_gzip(data) or data[:3] == b"\x00\x00\x08"


def is_idx_name(name):
    """True when a file name is one of MNIST's IDX names (raw or .gz), e.g. ``t10k-images-idx3-ubyte.gz``."""
    base = name[:-3] if name.endswith(".gz") else name
    return base.endswith(("-ubyte", ".idx", ".idx3")) or "-idx3-" in base


def _read_file(path):
    path = Path(path)
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise BadData(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadData(f"{path}: is a directory, expected an IDX file") from None
    except OSError as e:
        raise BadData(f"{path}: cannot read ({e.strerror})") from None


def parse_idx_bytes(data, name="<bytes>"):
    """Parse IDX bytes, gunzipped first (within MAX_GUNZIP) when they are gzip."""
    return parse_idx(gunzip(data, name) if is_gzip(data) else data, name)


def parse_idx(raw, name="<bytes>"):
    """Parse IDX bytes into a uint8 array, checking magic and sizes."""
    if len(raw) < 4:
        raise BadData(f"{name}: truncated IDX header: need 4 bytes, got {len(raw)}")
    zero, dtype, ndim = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != UBYTE or not 1 <= ndim <= 4:
        raise BadData(f"{name}: not an unsigned-byte IDX file (magic {raw[:4].hex()})")
    head = 4 + 4 * ndim
    if len(raw) < head:
        raise BadData(f"{name}: truncated IDX header: need {head} bytes, got {len(raw)}")
    shape = struct.unpack(f">{ndim}I", raw[4:head])
    count = 1
    for s in shape:
        count *= s
    if count > MAX_ELEMENTS:
        raise BadData(f"{name}: IDX header claims shape {shape}, over the {MAX_ELEMENTS}-element limit")
    have = len(raw) - head
    if have != count:
        kind = "truncated" if have < count else "oversized"
        raise BadData(f"{name}: {kind} IDX data: shape {shape} needs {count} bytes, found {have}")
    return np.frombuffer(raw, np.uint8, count, head).reshape(shape)


def read_idx(path):
    """Read an IDX file (raw or .gz) and return its uint8 array."""
    return parse_idx_bytes(_read_file(path), str(path))


def write_idx(array, path=None):
    """Return (and optionally write) the IDX bytes of a uint8 array."""
    a = np.ascontiguousarray(array, dtype=np.uint8)
    data = struct.pack(">HBB", 0, UBYTE, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape) + a.tobytes()
    if path is not None:
        if str(path).endswith(".gz"):
            data = gzip.compress(data, 9, mtime=0)
        Path(path).write_bytes(data)
    return data


def find_mnist(folder, split):
    """Return (images path, labels path) of *split* ('train' or 'test') in *folder*.

    Looks in the folder itself and in ``MNIST/raw`` below it, for raw or ``.gz`` files.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise BadData(f"{folder}: no such data folder")
    found = []
    for kind in ("images", "labels"):
        stem = MNIST_FILES[f"{split}-{kind}"]
        for sub in (folder, folder / "MNIST" / "raw", folder / "raw"):
            hit = next((sub / (stem + ext) for ext in ("", ".gz") if (sub / (stem + ext)).is_file()), None)
            if hit:
                found.append(hit)
                break
        else:
            raise BadData(f"{folder}: missing {stem}[.gz] (the standard MNIST IDX files)")
    return tuple(found)


def load_mnist(folder, split):
    """Load MNIST *split* from *folder*: (images uint8 (N,28,28), labels uint8 (N,))."""
    img_path, lab_path = find_mnist(folder, split)
    images = read_idx(img_path)
    labels = read_idx(lab_path)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise BadData(f"{img_path}: expected images of shape (N, 28, 28), found {images.shape}")
    if labels.shape != images.shape[:1]:
        raise BadData(f"{lab_path}: {labels.shape[0] if labels.ndim else 0} labels for {images.shape[0]} images")
    return images, labels


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()
