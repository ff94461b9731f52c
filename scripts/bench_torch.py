"""Decoding speed of aezip.torch.AezDataset through a torch DataLoader (batch 256).

    python scripts/bench_torch.py --data ../shared/mnist [--quality 5] [--out bench/torch.md]

Stores the 60,000 MNIST training digits as one .aez file, then reads every image through
``DataLoader(AezDataset(...), batch_size=256, shuffle=True)`` with 0 and 2 worker processes,
two ways: the torchvision way (PIL image, then ``aezip.torch.to_tensor``) and the fast path
(``as_tensor=True``: uint8 tensors).  Epoch 1 includes each worker's decode of the whole
file (what a user waits for); epoch 2 reads from the workers' caches (DataLoader
``persistent_workers``).  Also checks that the batches hold the pixels aezip.decompress gives.
"""

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

import aezip
from aezip.idx import load_mnist
from aezip.torch import AezDataset, to_tensor

REPO = Path(__file__).resolve().parent.parent
TARGET = 20_000


def epoch(loader):
    t = time.perf_counter()
    seen = 0
    checksum = 0
    for images, labels in loader:
        seen += len(images)
        checksum += int(labels.sum())
    return seen / (time.perf_counter() - t), seen, checksum


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AEZIP_MNIST_DIR", str(REPO.parent / "shared" / "mnist")))
    ap.add_argument("--quality", type=int, default=5)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--out", default=str(REPO / "bench" / "torch.md"))
    args = ap.parse_args()
    torch.manual_seed(0)
    images, labels = load_mnist(args.data, "train")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.aez"
        path.write_bytes(aezip.compress(images, quality=args.quality))
        want = aezip.decompress(path.read_bytes())
        size = path.stat().st_size

        # correctness first: 2 workers, no shuffle, every pixel
        ds = AezDataset(path, labels=labels, as_tensor=True)
        got = torch.cat([b for b, _ in DataLoader(ds, batch_size=args.batch, num_workers=2)])
        assert np.array_equal(got[:, 0].numpy(), want), "DataLoader pixels differ from aezip.decompress"

        rows = []
        for name, kwargs in (("PIL image + to_tensor", dict(transform=to_tensor)),
                             ("as_tensor=True (uint8)", dict(as_tensor=True))):
            for workers in (0, 2):
                ds = AezDataset(path, labels=labels, **kwargs)
                loader = DataLoader(ds, batch_size=args.batch, shuffle=True, num_workers=workers,
                                    persistent_workers=workers > 0)
                first, n, c1 = epoch(loader)
                second, _, c2 = epoch(loader)
                assert n == len(images) and c1 == c2 == int(labels.astype(np.int64).sum())
                rows.append((name, workers, first, second))
                print(f"{name}, {workers} workers: epoch 1 {first:,.0f} images/s (with decode), "
                      f"epoch 2 {second:,.0f} images/s")
                del loader

    lines = [
        "# AezDataset through a torch DataLoader", "",
        "Command:", "", "    " + " ".join(["python", "scripts/bench_torch.py", *sys.argv[1:]]), "",
        f"The 60,000 MNIST training digits in one .aez file (quality {args.quality}, "
        f"{size:,} bytes) read through "
        f"`DataLoader(AezDataset(...), batch_size={args.batch}, shuffle=True)`. Machine: {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, torch {torch.__version__}. "
        f"Load average (1 min) at the end: {os.getloadavg()[0]:.2f}. "
        "Epoch 1 includes each process decoding the whole file once; epoch 2 reads the cached "
        "pixels (persistent workers). The batches were checked pixel for pixel against "
        "`aezip.decompress`.", "",
        "| items | workers | epoch 1 images/s | epoch 2 images/s | >= 20,000 images/s |",
        "|---|---|---|---|---|",
    ]
    for name, workers, first, second in rows:
        lines.append(f"| {name} | {workers} | {first:,.0f} | {second:,.0f} | "
                     f"{'yes' if min(first, second) >= TARGET else 'no'} |")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
