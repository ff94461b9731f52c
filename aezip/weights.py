"""The bundled weights file: a deterministic .npz that numpy loads without pickle.

A weights file holds named float32 (or float16) arrays plus one uint8 array ``meta.json``:
UTF-8 JSON with the model's name, architecture, the encoder and decoder op
lists (see :mod:`aezip.infer`) and the quantization calibration.  Writing is
byte-for-byte reproducible (fixed zip timestamps, sorted names), so the
SHA-256 of the file identifies the model.
"""

import hashlib
import io
import json
import zipfile
from pathlib import Path

import numpy as np

from .errors import BadWeights

__all__ = ["save_weights", "load_weights", "sha256_bytes"]

META = "meta.json"


def sha256_bytes(data):
    return hashlib.sha256(data).hexdigest()


def save_weights(path, meta, arrays):
    """Write *arrays* and *meta* to *path* atomically; return the file's SHA-256."""
    buf = io.BytesIO()
    items = dict(arrays)
    items[META] = np.frombuffer(json.dumps(meta, sort_keys=True, indent=1).encode(), np.uint8)
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(items):
            arr = np.ascontiguousarray(items[name])
            member = io.BytesIO()
            np.lib.format.write_array(member, arr, allow_pickle=False)
            info = zipfile.ZipInfo(name + ".npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, member.getvalue())
    data = buf.getvalue()
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return sha256_bytes(data)


def load_weights(path, expect_sha256=None):
    """Read a weights file: (meta dict, {name: array}).

    With *expect_sha256*, the file's digest must match (the model card's value).
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise BadWeights(f"{path}: cannot read weights ({e.strerror})") from None
    digest = sha256_bytes(data)
    if expect_sha256 is not None and digest != expect_sha256:
        raise BadWeights(
            f"{path}: SHA-256 {digest[:16]}… does not match its model card ({expect_sha256[:16]}…)"
        )
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
        meta = json.loads(arrays.pop(META).tobytes().decode())
    except Exception as e:  # a damaged zip or npy member
        raise BadWeights(f"{path}: not a valid aezip weights file ({e})") from None
    return meta, arrays, digest
