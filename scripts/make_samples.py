"""Write the sample digits that ship in samples/ (from the MNIST test set).

    python scripts/make_samples.py --data ../shared/mnist

samples/digits/DIGIT/NNNNN.png  the first 3 test images of each class (30 PNGs)
samples/t10k-first100-idx3-ubyte.gz  the first 100 test images as an IDX file
"""

import argparse
from pathlib import Path

from PIL import Image

from aezip.idx import load_mnist, write_idx


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", default="samples")
    a = ap.parse_args()
    x, y = load_mnist(a.data, "test")
    out = Path(a.out)
    for digit in range(10):
        (out / "digits" / str(digit)).mkdir(parents=True, exist_ok=True)
        for i in [i for i in range(len(y)) if y[i] == digit][:3]:
            Image.fromarray(x[i]).save(out / "digits" / str(digit) / f"{i:05d}.png")
    write_idx(x[:100], out / "t10k-first100-idx3-ubyte.gz")


if __name__ == "__main__":
    main()
