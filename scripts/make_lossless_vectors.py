"""Write the lossless payload test vectors of the current layout version: formats/vectors/
lossless2-*.bin + expected pixels .npy, indexed in lossless-vectors-2.json.

    python scripts/make_lossless_vectors.py

Each vector is a payload of aezip.lossless (encode.py) for a few shipped sample digits; the
index records count, height, width, max_error, mode, the layout version and the pixel model
digest.  The layout 1 vectors (lossless-*.bin, lossless-vectors.json, written by this script
before layout 2 and an older bundled model) are frozen: every later reader must keep
decoding them, and tests/test_lossless_vectors.py checks that the encoder still writes
them when asked for layout 1 and that model.
"""

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aezip.idx import read_idx  # noqa: E402
from aezip import lossless  # noqa: E402
from aezip.lossless import encode, layout  # noqa: E402

OUT = ROOT / "formats" / "vectors"


def main():
    digits = read_idx(ROOT / "samples" / "t10k-first100-idx3-ubyte.gz")
    # 11 images: one round on 2 lanes in 6 groups (the last one image); 5 images: 1 lane, 5 groups
    cases = [
        ("lossless2-k0", digits[0:11], 0, layout.MODE_MODEL),
        ("lossless2-k4", digits[11:16], 4, layout.MODE_MODEL),
        ("lossless2-lzma", digits[16:18], 0, layout.MODE_LZMA),
    ]
    version = layout.LAYOUT_VERSION
    index = {"model": lossless.model_name(), "model_digest": lossless.model_digest().hex(),
             "layout": version, "vectors": {}}
    for name, images, k, mode in cases:
        payload, _ = encode._encode(images, k, 1, None, force_modes=[mode], version=version)
        assert payload[0] == version
        pixels = lossless.decode_pixels(payload, len(images), 28, 28, max_error=k)
        assert np.abs(pixels.astype(int) - images).max() <= k
        (OUT / f"{name}.bin").write_bytes(payload)
        np.save(OUT / f"{name}.npy", pixels)
        index["vectors"][name] = {
            "count": len(images), "height": 28, "width": 28, "max_error": k, "mode": mode,
            "bytes": len(payload),
        }
        print(name, len(payload), "bytes")
    (OUT / f"lossless-vectors-{version}.json").write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
