"""The quality contract, measured: per-image PSNR of MNIST test digits against
images that are not digits, and what --min-psnr costs.

    python scripts/trust_quality.py --data ../shared/mnist            # the tables in bench/trust.md
    python scripts/trust_quality.py --data ../shared/mnist --quality 1 9

Non-digit images are generated here with numpy and Pillow (nothing is
downloaded): clothing-like silhouettes (Fashion-MNIST-like: a light object on
black), printed letters, photo-like smooth random fields, and noise.  The same
generator is used by tests/test_trust_quality.py.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

KINDS = ["clothing", "letters", "photos", "noise"]


def _clothing(rng):
    from PIL import Image, ImageDraw
    s = 112
    img = Image.new("L", (s, s), 0)
    d = ImageDraw.Draw(img)
    kind = rng.integers(5)
    c = lambda: int(rng.integers(120, 256))  # noqa: E731
    j = lambda v: v + rng.integers(-6, 7)      # noqa: E731
    if kind == 0:    # t-shirt / pullover
        pts = [(j(20), j(30)), (j(40), j(14)), (j(72), j(14)), (j(92), j(30)), (j(82), j(46)), (j(74), j(40)),
               (j(74), j(100)), (j(38), j(100)), (j(38), j(40)), (j(30), j(46))]
    elif kind == 1:  # trousers
        pts = [(j(34), j(8)), (j(78), j(8)), (j(82), j(104)), (j(62), j(104)), (j(56), j(40)), (j(50), j(104)),
               (j(30), j(104))]
    elif kind == 2:  # dress
        pts = [(j(44), j(8)), (j(68), j(8)), (j(72), j(40)), (j(94), j(104)), (j(18), j(104)), (j(40), j(40))]
    elif kind == 3:  # sneaker
        pts = [(j(8), j(60)), (j(40), j(54)), (j(64), j(40)), (j(80), j(52)), (j(104), j(70)), (j(104), j(84)),
               (j(8), j(84))]
    else:            # bag
        d.rectangle([j(40), j(14), j(72), j(40)], outline=c(), width=6)
        pts = [(j(16), j(36)), (j(96), j(36)), (j(100), j(100)), (j(12), j(100))]
    d.polygon(pts, fill=c())
    a = np.asarray(img, np.float64)
    # cloth texture: stripes or a gradient, as in real garments
    yy, xx = np.mgrid[0:s, 0:s]
    if rng.random() < 0.5:
        a = a * (0.75 + 0.25 * np.sin(xx / rng.uniform(2, 6) + rng.uniform(0, 6)))
    else:
        a = a * (0.6 + 0.4 * yy / s)
    small = Image.fromarray(np.clip(a, 0, 255).astype(np.uint8)).resize((28, 28), Image.LANCZOS)
    return np.asarray(small, np.uint8)


def _letters(rng):
    from PIL import Image, ImageDraw, ImageFont
    from aezip.inputs import mnist_preprocess
    ch = "ABCDEFGHJKMNPQRSTUVWXYZabdefghkmnqrtwy"[int(rng.integers(38))]
    img = Image.new("L", (96, 96), 255)
    d = ImageDraw.Draw(img)
    try:
        font = ImageFont.load_default(size=int(rng.integers(56, 80)))
    except TypeError:   # Pillow < 10.1: the small bitmap font only
        font = ImageFont.load_default()
    d.text((int(rng.integers(8, 20)), int(rng.integers(0, 10))), ch, fill=0, font=font)
    return mnist_preprocess(np.asarray(img, np.uint8))   # dark on light, as a scan would be


def _photos(rng):
    """A photo-like image: a smooth random field (1/f^2 spectrum) with a light source."""
    f = np.fft.fftfreq(28)
    k = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    k[0, 0] = 1
    spec = (rng.normal(size=(28, 28)) + 1j * rng.normal(size=(28, 28))) / k ** rng.uniform(1.2, 2.0)
    a = np.real(np.fft.ifft2(spec))
    yy, xx = np.mgrid[0:28, 0:28]
    a = (a - a.min()) / (np.ptp(a) + 1e-9)
    a = 0.7 * a + 0.3 * np.exp(-((yy - rng.uniform(0, 28)) ** 2 + (xx - rng.uniform(0, 28)) ** 2) / 200)
    return np.clip(a * 255, 0, 255).astype(np.uint8)


def _noise(rng):
    if rng.random() < 0.5:
        return rng.integers(0, 256, (28, 28), dtype=np.uint8)
    return (rng.random((28, 28)) < rng.uniform(0.05, 0.5)).astype(np.uint8) * 255


GENERATORS = {"clothing": _clothing, "letters": _letters, "photos": _photos, "noise": _noise}


def nondigits(kind, n, seed=0):
    """n uint8 (28, 28) images of one kind, deterministic for a seed."""
    rng = np.random.default_rng([seed, KINDS.index(kind)])
    return np.stack([GENERATORS[kind](rng) for _ in range(n)])


def per_image_psnr(images, quality):
    from aezip.codec import AezCompressor
    comp = AezCompressor(quality)
    return comp.encode(images)[1]


def sizes(images, quality, min_psnr):
    """Bytes of the archive and how many images went to the Raw section."""
    import aezip
    from aezip import archive
    data = aezip.AezCompressor(quality, min_psnr=min_psnr).compress(images)
    return len(data), len(archive.read(data).raw_index)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(REPO.parent / "shared" / "mnist"), help="MNIST folder")
    ap.add_argument("--quality", type=int, nargs="*", default=[5])
    ap.add_argument("-n", type=int, default=1000, help="non-digit images per kind")
    ap.add_argument("--thresholds", type=float, nargs="*", default=[10, 11, 12, 14, 20, 30])
    args = ap.parse_args(argv)
    from aezip.idx import load_mnist

    digits = load_mnist(args.data, "test")[0]
    sets = {"MNIST test": digits}
    sets.update({k: nondigits(k, args.n) for k in KINDS})
    for q in args.quality:
        print(f"\n### Quality {q}: per-image PSNR (dB), {len(digits)} MNIST test digits, {args.n} per other kind\n")
        print("| images | min | 0.1 % | 1 % | 5 % | median | 95 % | 99 % | max |")
        print("|---|---|---|---|---|---|---|---|---|")
        scores = {}
        for name, imgs in sets.items():
            p = per_image_psnr(imgs, q)
            p = np.where(np.isinf(p), 99.0, p)
            scores[name] = p
            qs = np.percentile(p, [0, 0.1, 1, 5, 50, 95, 99, 100])
            print(f"| {name} | " + " | ".join(f"{v:.1f}" for v in qs) + " |")
        print(f"\n#### Share of images below a warning threshold (quality {q})\n")
        print("| threshold | " + " | ".join(sets) + " |")
        print("|---" * (len(sets) + 1) + "|")
        for t in [8, 10, 11, 12, 13, 14, 15]:
            print(f"| {t} dB | " + " | ".join(f"{100 * np.mean(scores[k] < t):.2f} %" for k in sets) + " |")
        print(f"\n#### Size cost of --min-psnr (quality {q}): bytes/image, images stored losslessly\n")
        print("| images | none | " + " | ".join(f"--min-psnr {t:g}" for t in args.thresholds) + " |")
        print("|---" * (len(args.thresholds) + 2) + "|")
        for name, imgs in sets.items():
            base, _ = sizes(imgs, q, None)
            cells = [f"{base / len(imgs):.2f}"]
            for t in args.thresholds:
                b, raw = sizes(imgs, q, t)
                cells.append(f"{b / len(imgs):.2f} (+{100 * (b - base) / base:.1f} %, {raw} raw)")
            print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
