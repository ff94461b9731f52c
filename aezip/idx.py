"""Read and write the IDX files MNIST is distributed in (no torch, no torchvision).

An IDX file is a 4-byte magic ``00 00 TT DD`` (TT the element type, 0x08 for
unsigned bytes; DD the number of dimensions), then DD big-endian u32 sizes,
then the elements.  Files may be gzip-compressed (``.gz``).
"""

import gzip
import hashlib
import os
import struct
from pathlib import Path

import numpy as np

from .errors import BadData

__all__ = ["read_idx", "write_idx", "is_idx", "find_mnist", "MNIST_FILES", "sha256_file"]

UBYTE = 0x08
MAX_ELEMENTS = 1 << 31  # refuse headers that claim more than 2 GiB of pixels

# The standard file names, as torchvision downloads them into MNIST/raw/.
MNIST_FILES = {
    "train-images": "train-images-idx3-ubyte",
    "train-labels": "train-labels-idx1-ubyte",
    "test-images": "t10k-images-idx3-ubyte",
    "test-labels": "t10k-labels-idx1-ubyte",
}


def _open_bytes(path):
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise BadData(f"{path}: no such file") from None
    except IsADirectoryError:
        raise BadData(f"{path}: is a directory, expected an IDX file") from None
    except OSError as e:
        raise BadData(f"{path}: cannot read ({e.strerror})") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, ValueError) as e:
            raise BadData(f"{path}: corrupt gzip stream ({e})") from None
    return raw


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
    return parse_idx(_open_bytes(path), str(path))


def is_idx(path):
    """True when *path* starts like an unsigned-byte IDX file (raw or gzip)."""
    name = str(path)
    if name.endswith(".gz"):
        name = name[:-3]
    return name.endswith(("-ubyte", ".idx")) or "idx" in os.path.basename(name)


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
