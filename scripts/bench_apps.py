"""Benchmark the denoising and up-sampling models against the classic baselines.

Side by side, in one run, on the 10,000 MNIST test images:

- denoising: PSNR of the noisy input, of a 3x3 median filter and of the bundled
  denoiser (``aezip.denoise``), for Gaussian noise sigma 0.1 / 0.3 / 0.5 and
  10 % salt-and-pepper (noise from a fixed seed; pixels in [0, 1], clipped,
  rounded to 8 bits);
- up-sampling 14 -> 28: nearest, bicubic (Pillow) and ``aezip.upscale``;
- speed: images per second through the API (numpy), best of 3 timed runs.

Prints a table and writes it to ``bench/apps.md``.

    python scripts/bench_apps.py --data ../shared/mnist
"""

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aezip import apps, zoo  # noqa: E402
from aezip.metrics import psnr  # noqa: E402
from aezip.idx import load_mnist  # noqa: E402

NOISES = ["gauss:0.1", "gauss:0.3", "gauss:0.5", "sp:0.1"]
TARGETS = {"gauss:0.3": (6.0, 2.0)}   # dB above the noisy input, dB above the median filter
UPSCALE_TARGET = 3.0                  # dB above bicubic
SPEED_TARGET = 10_000                 # images per second


def rate(fn, x, repeats=3):
    fn(x[:256])  # warm up (loads the model)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        fn(x)
        best = min(best, time.perf_counter() - t)
    return len(x) / best


def save_png(img, path):
    tmp = path.with_name(f".{path.name}.new")
    img.save(tmp, format="PNG")
    os.replace(tmp, path)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", default=os.environ.get("AEZIP_MNIST_DIR", str(ROOT.parent / "shared" / "mnist")),
                    help="folder with the MNIST IDX files")
    ap.add_argument("--out", default=str(ROOT / "bench" / "apps.md"), help="markdown report ('' for none)")
    ap.add_argument("--seed", type=int, default=0, help="noise seed")
    ap.add_argument("--denoise-model", default=apps.DENOISE_MODEL)
    ap.add_argument("--upscale-model", default=apps.UPSCALE_MODEL)
    a = ap.parse_args(argv)

    x, _ = load_mnist(a.data, "test")
    dn = zoo.get_model(a.denoise_model)
    up = zoo.get_model(a.upscale_model)
    ok = True
    lines = []

    def out(s=""):
        print(s)
        lines.append(s)

    out("# Applications: denoising and up-sampling")
    out("")
    out(f"Measured by `python scripts/bench_apps.py` on the {len(x):,} MNIST test images "
        f"(noise seeds {a.seed}..{a.seed + len(NOISES) - 1}, one per row, numpy's default_rng).")
    out("PSNR = 10·log10(1/MSE) over all pixels in [0, 1]. Models (reproduce with their cards' commands):")
    out("")
    for m in (dn, up):
        out(f"- `{m.model_id}` ({m.card.get('arch')}, {m.card.get('parameters', 0):,} parameters, "
            f"{m.card.get('train_seconds', 0):.0f} s to train): `{m.card.get('command')}`")
    out("")
    out("## Denoising")
    out("")
    out("| noise | noisy input | 3x3 median | denoiser | gain vs noisy | gain vs median | target |")
    out("|---|---|---|---|---|---|---|")
    for i, spec in enumerate(NOISES):
        noisy = apps.add_noise(x, spec, seed=a.seed + i)
        p_noisy = psnr(noisy, x)
        p_med = psnr(apps.median3(noisy), x)
        p_dn = psnr(apps.denoise(noisy, model=dn), x)
        target = ""
        if spec in TARGETS:
            t_noisy, t_med = TARGETS[spec]
            met = p_dn - p_noisy >= t_noisy and p_dn - p_med >= t_med
            ok &= met
            target = f"≥ +{t_noisy:g} / ≥ +{t_med:g}: {'met' if met else 'NOT met'}"
        out(f"| {spec} | {p_noisy:.2f} dB | {p_med:.2f} dB | {p_dn:.2f} dB | {p_dn - p_noisy:+.2f} dB | "
            f"{p_dn - p_med:+.2f} dB | {target} |")
    out(f"\nOn clean digits (no noise) the denoiser gives {psnr(apps.denoise(x, model=dn), x):.2f} dB.")
    out("")
    out("## Up-sampling 14x14 → 28x28")
    out("")
    small = apps.downscale(x)
    p_near = psnr(small.repeat(2, 1).repeat(2, 2), x)
    p_bic = psnr(apps.bicubic(small), x)
    p_up = psnr(apps.upscale(small, model=up), x)
    met = p_up - p_bic >= UPSCALE_TARGET
    ok &= met
    out("| method | PSNR | vs bicubic |")
    out("|---|---|---|")
    out(f"| nearest | {p_near:.2f} dB | {p_near - p_bic:+.2f} dB |")
    out(f"| bicubic (Pillow) | {p_bic:.2f} dB | |")
    out(f"| aezip.upscale | {p_up:.2f} dB | {p_up - p_bic:+.2f} dB (target ≥ +{UPSCALE_TARGET:g}: "
        f"{'met' if met else 'NOT met'}) |")
    out("")
    out("## Speed (images/s through the API, numpy, best of 3)")
    out("")
    noisy = apps.add_noise(x, "gauss:0.3", seed=a.seed)
    speeds = [
        ("aezip.denoise", rate(lambda v: apps.denoise(v, model=dn), noisy), True),
        ("3x3 median (numpy)", rate(apps.median3, noisy), False),
        ("aezip.upscale", rate(lambda v: apps.upscale(v, model=up), small), True),
        ("bicubic (Pillow, per image)", rate(apps.bicubic, small), False),
    ]
    out("| operation | images/s | target |")
    out("|---|---|---|")
    for name, r, targeted in speeds:
        target = ""
        if targeted:
            met = r >= SPEED_TARGET
            ok &= met
            target = f"≥ {SPEED_TARGET:,}: {'met' if met else 'NOT met'}"
        out(f"| {name} | {r:,.0f} | {target} |")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    out("")
    if a.out:
        # Pictures: the first 12 test digits, each method in one row, PSNR of the model's row.
        from aezip.metrics import psnr_per_image
        k = 12
        folder = Path(a.out).parent
        folder.mkdir(parents=True, exist_ok=True)
        noisy = apps.add_noise(x[:k], "gauss:0.3", seed=a.seed)
        clean = apps.denoise(noisy, model=dn)
        save_png(apps.picture([x[:k], noisy, apps.median3(noisy), clean],
                              apps.psnr_labels(psnr_per_image(x[:k], clean)),
                              caption="originals, gauss:0.3 noise, 3x3 median, aezip.denoise (PSNR dB)"),
                 folder / "apps-denoise.png")
        big = apps.upscale(small[:k], model=up)
        save_png(apps.picture([x[:k], small[:k], apps.bicubic(small[:k]), big],
                              apps.psnr_labels(psnr_per_image(x[:k], big)),
                              caption="originals, 14x14 inputs, bicubic, aezip.upscale (PSNR dB)"),
                 folder / "apps-upscale.png")
        out("![denoising](apps-denoise.png)")
        out("")
        out("![up-sampling](apps-upscale.png)")
        out("")
    out(f"Load average when the timings ended: {load:.1f} (the machine is shared).")
    out(f"Machine: {platform.machine()}, {os.cpu_count()} CPU(s), Python {platform.python_version()}, "
        f"numpy {np.__version__}.")
    if a.out:
        Path(a.out).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(a.out).with_name(f".{Path(a.out).name}.new")
        tmp.write_text("\n".join(lines) + "\n")
        os.replace(tmp, a.out)
        print(f"\nwrote {a.out}", file=sys.stderr)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
