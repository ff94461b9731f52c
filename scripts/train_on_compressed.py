"""How much accuracy per byte: train one small classifier on MNIST stored several ways.

    python scripts/train_on_compressed.py --data ../shared/mnist [--epochs 2] [--seeds 0 1]
        [--out bench/train-on-compressed.md] [--fill docs/integrations.md]

The same small CNN (two 3x3 conv layers of 8 and 16 channels, each with 2x2 max-pooling,
then a 64-unit hidden layer; Adam, batch 128, fixed seeds, --threads CPU threads, default 1:
on a shared 2-core machine two threads ran many times slower) is trained on the 60,000 MNIST training
images as stored by:

- the originals (the raw IDX pixels);
- gzip -9 of the originals (the .gz file MNIST ships as; the same pixels: a check that
  the pipeline is deterministic, its accuracy must equal the originals');
- aezip at quality 1, 5 and 9 (one .aez file each, read through aezip.torch.AezDataset);
- PCA with as many components as fit in aezip q5's bytes per image (fitted on the
  training set; coefficients quantized with one step per component, the k-th component's
  std, and zstd-19 coded dimension-major, like ``aezip bench``'s PCA baseline; the basis
  is not counted, as if it shipped with the decoder, and its size is shown apart).

Every run is tested on the real 10,000 MNIST test images.  Writes a markdown report with
test accuracy per seed, the mean, bytes per training image and training time, and the q5
accuracy drop against the originals.  With --fill FILE, also rewrites the text between
``<!-- accuracy-per-byte:begin -->`` and ``<!-- accuracy-per-byte:end -->`` in FILE.
"""

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import zstandard
from torch import nn
from torch.utils.data import DataLoader, Dataset

import aezip
from aezip.idx import find_mnist, load_mnist, read_idx
from aezip.torch import AezDataset

REPO = Path(__file__).resolve().parent.parent
BATCH = 128
LR = 1e-3


class PixelDataset(Dataset):
    """In-memory uint8 digits with the same items as AezDataset(as_tensor=True)."""

    def __init__(self, images, labels):
        self.images = torch.from_numpy(np.array(images, np.uint8)[:, None])
        self.labels = labels.astype(np.int64)

    def __len__(self):
        return len(self.images)

    def __getitem__(self, index):
        return self.images[index], int(self.labels[index])

    def __getitems__(self, indices):
        return list(zip(self.images[indices].unbind(0), self.labels[indices].tolist()))


def make_model():
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(16 * 7 * 7, 64), nn.ReLU(), nn.Linear(64, 10))


def train_and_test(dataset, test_x, test_y, seed, epochs):
    torch.manual_seed(seed)
    model = make_model()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    loader = DataLoader(dataset, batch_size=BATCH, shuffle=True, num_workers=0,
                        generator=torch.Generator().manual_seed(seed))
    t = time.perf_counter()
    model.train()
    for _ in range(epochs):
        for x, y in loader:
            opt.zero_grad()
            loss = nn.functional.cross_entropy(model(x.float().div_(255)), y)
            loss.backward()
            opt.step()
    seconds = time.perf_counter() - t
    model.eval()
    with torch.no_grad():
        pred = torch.cat([model(test_x[i:i + 1000].float().div_(255)).argmax(1)
                          for i in range(0, len(test_x), 1000)])
    return float((pred == test_y).float().mean()), seconds


# ---- PCA at a byte budget ------------------------------------------------------------

def fit_pca(images, k_max):
    x = images.reshape(len(images), -1).astype(np.float64) / 255
    mean = x.mean(0)
    xc = x - mean
    w, v = np.linalg.eigh(xc.T @ xc / (len(x) - 1))
    order = np.argsort(w)[::-1][:k_max]
    v = v[:, order]
    v = v * np.where(np.sign(v[np.argmax(np.abs(v), axis=0), np.arange(len(order))]) < 0, -1, 1)
    return mean, v, np.sqrt(np.clip(w[order], 0, None))


def pca_codes(coeffs, std, k):
    """Quantized codes (one step per component: the k-th component's std) and their stored size."""
    step = float(std[k - 1])
    q = np.rint(coeffs[:, :k] / step).astype(np.int64)
    lo = q.min(0)
    shifted = q - lo
    dtype = np.uint8 if shifted.max() < 256 else np.dtype("<u2")
    codes = np.ascontiguousarray(shifted.T.astype(dtype)).tobytes()  # dimension-major, as aezip stores codes
    head = np.array([len(q), k], "<u4").tobytes() + np.float32(step).tobytes() + lo.astype("<i4").tobytes()
    return q, step, len(head) + len(zstandard.ZstdCompressor(level=19).compress(codes))


def pca_at_budget(images, budget_per_image, k_max=64):
    """(k, stored bytes, decoded uint8 images) of the PCA whose bytes per image come closest to the budget."""
    mean, basis, std = fit_pca(images, k_max)
    coeffs = (images.reshape(len(images), -1).astype(np.float64) / 255 - mean) @ basis
    sizes = {}

    def size(k):
        if k not in sizes:
            sizes[k] = pca_codes(coeffs, std, k)[2] / len(images)
        return sizes[k]

    lo, hi = 1, k_max  # bisect for the last k at or under the budget (sizes grow with k)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if size(mid) <= budget_per_image else (lo, mid - 1)
    k = min((c for c in (lo, lo + 1) if c <= k_max), key=lambda c: abs(size(c) - budget_per_image))
    q, step, stored = pca_codes(coeffs, std, k)
    y = mean + (q * step) @ basis[:, :k].T
    return k, stored, np.clip(np.rint(y * 255), 0, 255).astype(np.uint8).reshape(-1, 28, 28)


# ---- main ----------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("AEZIP_MNIST_DIR", str(REPO.parent / "shared" / "mnist")))
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--only", nargs="*", help="storages to run (default: all)")
    ap.add_argument("--out", default=str(REPO / "bench" / "train-on-compressed.md"))
    ap.add_argument("--fill", help="a markdown file whose accuracy-per-byte block to rewrite")
    ap.add_argument("--from-json", help="re-write the report from a saved run (its .json), training nothing")
    args = ap.parse_args()
    if args.from_json:
        write_outputs(json.loads(Path(args.from_json).read_text()), args.out, args.fill)
        return
    torch.set_num_threads(args.threads)
    started = time.perf_counter()

    train_x, train_y = load_mnist(args.data, "train")
    test_x, test_y = load_mnist(args.data, "test")
    test_x = torch.from_numpy(test_x[:, None].copy())
    test_y = torch.from_numpy(test_y.astype(np.int64))
    img_path, lab_path = find_mnist(args.data, "train")
    n = len(train_x)

    storages = []  # (name, bytes per image, dataset factory, how it is read, note)
    tmp = tempfile.TemporaryDirectory()
    storages.append(("originals", (4 * 4 + train_x.size) / n, lambda: PixelDataset(train_x, train_y),
                     "raw IDX pixels, in memory", ""))
    gz = img_path.read_bytes() if img_path.suffix == ".gz" else gzip.compress(img_path.read_bytes(), 9, mtime=0)
    gz_pixels = read_idx(img_path)
    assert np.array_equal(gz_pixels, train_x)
    storages.append(("gzip'd originals", len(gz) / n, lambda: PixelDataset(gz_pixels, train_y),
                     f"{img_path.name} (gzip), decoded with aezip.idx", "same pixels as the originals"))
    q5_bytes = None
    for q in (1, 5, 9):
        path = Path(tmp.name) / f"train-q{q}.aez"
        path.write_bytes(aezip.compress(train_x, quality=q))
        size = path.stat().st_size
        header = aezip.read_header(path)
        if q == 5:
            q5_bytes = size / n
        storages.append((f"aezip q{q}", size / n,
                         lambda path=path: AezDataset(path, labels=lab_path, as_tensor=True),
                         "AezDataset(as_tensor=True)", f"model {header.model_id}"))
    path = Path(tmp.name) / "train-lossless.aez"   # the pixel mode: the same pixels, fewer bytes than xz
    path.write_bytes(aezip.compress(train_x, lossless=True))
    storages.append(("aezip lossless", path.stat().st_size / n,
                     lambda path=path: AezDataset(path, labels=lab_path, as_tensor=True),
                     "AezDataset(as_tensor=True)", "exact pixels (pixel model)"))
    k, pca_size, pca_pixels = pca_at_budget(train_x, q5_bytes)
    basis_bytes = 4 * 784 * (k + 1)
    storages.append((f"PCA k={k} (q5's size)", pca_size / n, lambda: PixelDataset(pca_pixels, train_y),
                     "decoded PCA pixels, in memory",
                     f"basis {basis_bytes:,} bytes more ({basis_bytes / n:.2f} B/image) if stored with the data"))
    prepare_s = time.perf_counter() - started
    print(f"prepared the storages in {prepare_s:.1f} s; PCA k={k} at {pca_size / n:.2f} B/image "
          f"(q5: {q5_bytes:.2f})", flush=True)

    results = []
    for name, bpi, factory, how, note in storages:
        if args.only and not any(o in name for o in args.only):
            continue
        accs, secs = [], []
        for seed in args.seeds:
            acc, s = train_and_test(factory(), test_x, test_y, seed, args.epochs)
            accs.append(acc)
            secs.append(s)
            print(f"{name}: seed {seed}: test accuracy {acc:.4f}, {s:.1f} s", flush=True)
        results.append(dict(name=name, bytes_per_image=bpi, accuracy=accs, seconds=secs, read=how, note=note))
    tmp.cleanup()
    total_s = time.perf_counter() - started
    command = " ".join(["python", "scripts/train_on_compressed.py", *sys.argv[1:]])
    run = dict(command=command, epochs=args.epochs, seeds=args.seeds, threads=args.threads, total_s=total_s,
               machine=f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}, "
                       f"torch {torch.__version__}", results=results)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).with_suffix(".json").write_text(json.dumps(run, indent=1) + "\n")
    write_outputs(run, args.out, args.fill)


def drop_vs(results, name, base="originals"):
    by = {r["name"]: r for r in results}
    if name not in by or base not in by:
        return None
    return 100 * (np.mean(by[base]["accuracy"]) - np.mean(by[name]["accuracy"]))


def points(delta):
    """A change in accuracy, in percentage points, as text."""
    return "same" if round(delta, 2) == 0 else f"{delta:+.2f} points"


def accuracy_per_byte_table(results):
    lines = ["| training set stored as | bytes per image | test accuracy (mean of "
             f"{len(results[0]['accuracy'])} seeds) | vs originals |", "|---|---|---|---|"]
    for r in results:
        d = drop_vs(results, r["name"])
        vs = "" if r["name"] == "originals" or d is None else points(-d)
        lines.append(f"| {r['name']} | {r['bytes_per_image']:.2f} | {100 * np.mean(r['accuracy']):.2f} % | {vs} |")
    return lines


def write_outputs(run, out, fill=None):
    results, seeds, command = run["results"], run["seeds"], run["command"]
    lines = [
        "# Training on compressed digits: how much accuracy per byte", "",
        "Command:", "", f"    {command}", "",
        f"A small CNN (conv 3x3 8 -> pool -> conv 3x3 16 -> pool -> linear 64 -> linear 10; Adam lr {LR}, batch {BATCH}, "
        f"{run['epochs']} epochs, seeds {', '.join(map(str, seeds))}, {run['threads']} CPU thread(s)) trained on the "
        "60,000 MNIST training images as each storage gives them back, tested on the real 10,000 test "
        f"images. Machine: {run['machine']}; whole run {run['total_s'] / 60:.1f} min.", "",
        "| storage | bytes / training image | " + " | ".join(f"accuracy, seed {s}" for s in seeds)
        + " | mean | training time (s, mean) | read through | note |",
        "|---|---|" + "---|" * len(seeds) + "---|---|---|---|",
    ]
    for r in results:
        lines.append(f"| {r['name']} | {r['bytes_per_image']:.2f} | "
                     + " | ".join(f"{100 * a:.2f} %" for a in r["accuracy"])
                     + f" | {100 * np.mean(r['accuracy']):.2f} % | {np.mean(r['seconds']):.1f} | {r['read']} | {r['note']} |")
    d5 = drop_vs(results, "aezip q5")
    by = {r["name"]: r for r in results}
    lines += [""]
    if d5 is not None:
        lines.append(f"**aezip q5 against the originals: {points(-d5)} of test accuracy** "
                     f"(mean of {len(seeds)} seeds), at {by['aezip q5']['bytes_per_image']:.2f} instead of "
                     f"{by['originals']['bytes_per_image']:.2f} bytes per training image "
                     f"({by['originals']['bytes_per_image'] / by['aezip q5']['bytes_per_image']:.0f}x fewer).")
        spread = [100 * (max(r["accuracy"]) - min(r["accuracy"])) for r in results]
        lines.append(f"Seed-to-seed spread within a storage: up to {max(spread):.2f} points. Training "
                     "times are wall-clock on a machine shared with other jobs, so they vary with its load.")
    if "gzip'd originals" in by and "originals" in by:
        same = by["gzip'd originals"]["accuracy"] == by["originals"]["accuracy"]
        lines.append(f"gzip'd originals give the same pixels, and {'the same' if same else 'NOT the same'} "
                     "accuracies as the originals (the check that runs are deterministic).")
    lines += ["", "The table for README (\"how much accuracy per byte\"):", "", *accuracy_per_byte_table(results)]
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text("\n".join(lines) + "\n")
    print(f"wrote {out}")
    if fill:
        path = Path(fill)
        text = path.read_text()
        begin, end = "<!-- accuracy-per-byte:begin -->", "<!-- accuracy-per-byte:end -->"
        i, j = text.index(begin) + len(begin), text.index(end)
        body = "\n".join([*accuracy_per_byte_table(results), "",
                          f"Made by `{command}` ([bench/train-on-compressed.md](../bench/train-on-compressed.md))."])
        path.write_text(text[:i] + "\n" + body + "\n" + text[j:])
        print(f"filled {path}")


if __name__ == "__main__":
    main()
