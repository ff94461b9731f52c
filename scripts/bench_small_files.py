"""What small archives really cost: whole-file bytes through the installed CLI (issue 13).

    python scripts/bench_small_files.py [--data ../shared/mnist] [--out bench/small-files.md]

One MNIST test digit saved as PNG `d.png` and compressed alone at every quality level, the
30 shipped sample digits (samples/digits) at every level, and the fixed cost of an archive
(one all-black image at q5 minus its codes); with the MNIST test set (when --data has it)
the default level's bytes/image and PSNR for 10,000 images. The PNG of the same digit and
its raw size are the peers. It measures; it does not pass or fail.
"""

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

import aezip
from aezip.idx import load_mnist, read_idx
from aezip.metrics import psnr

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {1: 40, 5: 64, 9: 200}   # issue 13: one digit, whole file


def cli(*args):
    aez = Path(sys.executable).with_name("aezip")
    cmd = [str(aez)] if aez.exists() else [sys.executable, "-m", "aezip"]
    return subprocess.run(cmd + [str(a) for a in args], capture_output=True, text=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("AEZIP_MNIST_DIR", "../shared/mnist"))
    ap.add_argument("--out", default="bench/small-files.md")
    a = ap.parse_args()
    digit = read_idx(ROOT / "samples" / "t10k-first100-idx3-ubyte.gz")[0]
    lines = ["# Small files: whole-file bytes through the CLI", "",
             "| input | quality | .aez bytes | bytes/image | target | peer |", "|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        Image.fromarray(digit).save(tmp / "d.png")
        png = (tmp / "d.png").stat().st_size
        for q in range(1, 10):
            cli("compress", tmp / "d.png", "-o", tmp / f"d{q}.aez", f"-Q{q}", "-q", "-f")
            size = (tmp / f"d{q}.aez").stat().st_size
            target = f"≤ {TARGETS[q]}: {'met' if size <= TARGETS[q] else 'NOT met'}" if q in TARGETS else ""
            lines.append(f"| one digit `d.png` (MNIST test #0) | {q} | {size} | {size} | {target} | "
                         f"PNG {png} B, raw 784 B |")
        for q in range(1, 10):
            cli("compress", ROOT / "samples" / "digits", "-o", tmp / f"s{q}.aez", f"-Q{q}", "-q", "-f")
            size = (tmp / f"s{q}.aez").stat().st_size
            target = f"≤ 12 B/image: {'met' if size / 30 <= 12 else 'NOT met'}" if q == 5 else ""
            lines.append(f"| the 30 sample digits (samples/digits, names stored) | {q} | {size:,} | "
                         f"{size / 30:.2f} | {target} | |")
        one = aezip.compress(np.zeros((1, 28, 28), np.uint8), quality=5)
        head = aezip.read_header(one)
        from aezip.archive import section_spans
        codes = section_spans(one)[0]
        fixed = len(one) - (codes[1] - codes[0])
    lines += ["", f"Fixed cost of an archive (header, section headers, Psnr byte, checksum) at quality 5: "
              f"**{fixed} bytes** (one all-black image without names: {len(one)} B, of which "
              f"{codes[1] - codes[0]} B are its codes; format version {head.version}).", ""]
    try:
        x, _ = load_mnist(a.data, "test")
    except aezip.AezError as e:   # no MNIST here: the rest stands
        lines += [f"(MNIST test set not measured: {e})", ""]
    else:
        data = aezip.compress(x)
        rate, quality = len(data) / len(x), psnr(aezip.decompress(data), x)
        met = "met" if rate <= 7.40 and quality >= 20.1 else "NOT met"
        lines += [f"MNIST test set (10,000 images), quality 5: **{rate:.3f} B/image** at "
                  f"**{quality:.2f} dB** (target ≤ 7.40 B/image at ≥ 20.1 dB: {met}).", ""]
    lines += [f"Made by `python scripts/bench_small_files.py --data {a.data}`.", ""]
    text = "\n".join(lines)
    print(text)
    Path(a.out).write_text(text)


if __name__ == "__main__":
    main()
