"""Write the lossless payload test vectors: formats/vectors/lossless-*.bin + expected pixels .npy.

    python scripts/make_lossless_vectors.py

Each vector is a payload of aezip.lossless (encode.py) for a few shipped sample digits;
lossless-vectors.json records count, height, width, max_error and the pixel model digest.
Re-run only when the bundled pixel model changes (the vectors name its digest).
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
    cases = [
        ("lossless-k0", digits[0:3], 0, layout.MODE_MODEL),
        ("lossless-k4", digits[3:6], 4, layout.MODE_MODEL),
        ("lossless-lzma", digits[6:8], 0, layout.MODE_LZMA),
    ]
    index = {"model": lossless.model_name(), "model_digest": lossless.model_digest().hex(), "vectors": {}}
    for name, images, k, mode in cases:
        payload, _ = encode._encode(images, k, 1, None, force_modes=[mode])
        pixels = lossless.decode_pixels(payload, len(images), 28, 28, max_error=k)
        assert np.abs(pixels.astype(int) - images).max() <= k
        (OUT / f"{name}.bin").write_bytes(payload)
        np.save(OUT / f"{name}.npy", pixels)
        index["vectors"][name] = {
            "count": len(images), "height": 28, "width": 28, "max_error": k, "mode": mode,
            "bytes": len(payload),
        }
        print(name, len(payload), "bytes")
    (OUT / "lossless-vectors.json").write_text(json.dumps(index, indent=2) + "\n")


if __name__ == "__main__":
    main()
