"""How often the verdict (aezip.verdict) flags digits and non-digits, and what it costs.

    python scripts/verdict_rates.py --data ../shared/mnist            # writes bench/verdict.md

Sets, each compressed at quality 1, 5 and 9 (reconstructions = what decompress outputs):

- MNIST test set (10,000 digits): should pass (target at q5: <= 2 % flagged);
- Fashion-MNIST test set (10,000, Debian package dataset-fashion-mnist): should be flagged
  (target at q5: >= 95 %);
- letters and symbols rendered from the DejaVu, FreeFont and Liberation fonts
  (aezip.training.fontglyphs.EVAL_FONT_DIRS, :func:`font_glyphs`): should be flagged
  (target at q5: >= 80 %); printed digits from the same fonts are reported beside.

None of these sets was used to train the classifier or choose its thresholds: the
classifier's font glyphs come from other font families (its card's config.fonts; this
script refuses a classifier whose training fonts overlap these).
"""

import argparse
import string
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aezip.training.fontglyphs import EVAL_FONT_DIRS, LOOKS_LIKE_A_DIGIT, eval_fonts, render  # noqa: E402

FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")
FONT_DIRS = EVAL_FONT_DIRS
LETTERS = string.ascii_uppercase + string.ascii_lowercase
SYMBOLS = "+-=*/#@%&?!()[]<>{}$"
DIGITS = string.digits
SIZES = (24, 64)
QUALITIES = (1, 5, 9)


def font_files():
    """The evaluation fonts: every .ttf/.otf below FONT_DIRS, sorted by path."""
    return eval_fonts()


def font_glyphs(chars):
    """(images uint8 (N, 28, 28), labels [(font file name, size, char)]) for every font x size x char."""
    images, labels = [], []
    for f in font_files():
        for size in SIZES:
            for ch in chars:
                try:
                    a = render(f, size, ch)
                except OSError:
                    continue
                if a is not None:
                    images.append(a)
                    labels.append((f.name, size, ch))
    return np.stack(images), labels


def train_fonts_note(card, eval_files):
    """Which fonts the classifier trained on, from its card, and a check that none is an evaluation font."""
    info = card.get("config", {}).get("fonts")
    if not info:
        return ("The classifier trained on no font glyphs (its card lists none): every glyph here is new to it.")
    overlap = sorted(set(info["files"]) & {f.name for f in eval_files})
    if overlap:
        raise SystemExit(f"the classifier trained on evaluation fonts {overlap}: these rates would not be honest")
    return (f"Training and evaluation fonts are disjoint. The classifier trained on {info['negatives']:,} letters and "
            f"symbols (as not-a-digit) and {info['digits']:,} printed digits (as digits) drawn, with random size, "
            f"stroke width and affine move, from {len(info['files'])} other font files: Debian packages "
            + ", ".join(info.get("packages", [])) + " (unpacked by `scripts/get_train_fonts.sh`, not installed; "
            "none of them is DejaVu, Bitstream Vera, Liberation, Arimo/Tinos/Cousine, GNU FreeFont or the URW / "
            "TeX Gyre fonts FreeFont derives from). Its negatives were the characters `` "
            + info["negative_chars"] + " ``: never `" + LOOKS_LIKE_A_DIGIT + "` (they honestly look like 0 and 1), "
            "never a digit, and no rendering of `` " + info.get("bar_like", "") + " `` that is one upright bar "
            "(an MNIST 1). No glyph above was drawn from a training font.")


def run_set(images, quality):
    """(reasons uint8 (N,), verdict seconds, encode seconds) of a set at a quality level.

    Encode seconds: the compressor's encode (encoder, quantizer, decoder and PSNR), which
    the verdict would run beside, timed in the same run for the ratio."""
    from aezip.codec import AezCompressor
    from aezip.verdict import get_judge

    c = AezCompressor(quality)
    c.encode(images[:64])  # warm up
    t = time.perf_counter()
    codes, psnr = c.encode(images)
    encode_s = time.perf_counter() - t
    recon = c.decode(codes)
    j = get_judge()
    j.judge(images[:64], recon[:64], quality, psnr[:64])  # warm up
    t = time.perf_counter()
    _, reasons = j.judge(images, recon, quality, psnr)
    return reasons, time.perf_counter() - t, encode_s


def pct(x):
    return f"{100 * float(np.mean(x)):.2f} %"


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    ap.add_argument("--out", default=str(REPO / "bench" / "verdict.md"))
    args = ap.parse_args(argv)

    from aezip.idx import load_mnist, read_idx
    from aezip.verdict import REASONS, get_judge

    sets = {"MNIST test": load_mnist(args.data, "test")[0]}
    if FASHION.exists():
        sets["Fashion-MNIST test"] = read_idx(FASHION)
    glyphs, glabels = font_glyphs(LETTERS + SYMBOLS)
    printed, plabels = font_glyphs(DIGITS)
    sets["font letters+symbols"] = glyphs
    sets["font digits (not a target)"] = printed
    fonts = font_files()

    results = {}
    for name, x in sets.items():
        for q in QUALITIES:
            results[name, q] = run_set(x, q)
            print(f"{name} q{q}: {pct(results[name, q][0] != 0)} flagged", file=sys.stderr)

    j = get_judge()
    lines = [
        "# Verdict: digits vs non-digits",
        "",
        "Generated by `scripts/verdict_rates.py`; do not edit by hand. Reproduce:",
        "",
        "```",
        "python scripts/verdict_rates.py --data ../shared/mnist",
        "```",
        "",
        f"Classifier `{j.card['model_id']}` ({j.card['architecture']}), test accuracy "
        f"{100 * j.card['measured']['test_accuracy']:.2f} % (11 classes; "
        f"{100 * j.card['measured'].get('test_digit_accuracy', float('nan')):.2f} % over the 10 digits). "
        "Thresholds, chosen on MNIST training images 55,000-59,999 (the classifier never trained on "
        "them; the codec models did): " + j.card["thresholds_how"].split(": ", 1)[-1] + ". Values: min_confidence "
        f"{j.min_confidence:.4f}; psnr_floor " + ", ".join(f"q{q} {v:.2f} dB" for q, v in sorted(j.psnr_floor.items()))
        + "; min_agreement " + ", ".join(f"q{q} {v:.3g}" for q, v in sorted(j.min_agreement.items())) + ".",
        "",
        "## Share of images flagged",
        "",
        "| set | images | " + " | ".join(f"q{q}" for q in QUALITIES) + " | target (q5) |",
        "|---|---|" + "---|" * len(QUALITIES) + "---|",
    ]
    targets = {"MNIST test": "≤ 2 %", "Fashion-MNIST test": "≥ 95 %", "font letters+symbols": "≥ 80 %",
               "font digits (not a target)": "-"}
    for name, x in sets.items():
        lines.append(f"| {name} | {len(x):,} | " + " | ".join(pct(results[name, q][0] != 0) for q in QUALITIES)
                     + f" | {targets[name]} |")
    lines += ["", "## Reasons at q5 (an image may have several)", "",
              "| set | " + " | ".join(code for code, _ in REASONS.values()) + " |",
              "|---|" + "---|" * len(REASONS)]
    for name in sets:
        r = results[name, 5][0]
        lines.append(f"| {name} | " + " | ".join(pct(r & bit != 0) for bit in REASONS) + " |")

    lines += ["", "## The font set", "",
              f"Every font file below {', '.join(FONT_DIRS)} (Debian packages fonts-dejavu-core, "
              f"fonts-dejavu-extra, fonts-freefont-ttf, fonts-liberation; {len(fonts)} files: "
              + ", ".join(f.name for f in fonts) + ")",
              f"x sizes {', '.join(map(str, SIZES))} px x the characters `{LETTERS}` and `{SYMBOLS}`: each drawn by "
              "Pillow's ImageFont.truetype in black on a white canvas of 3x the size, then put through "
              "`aezip.inputs.mnist_preprocess` (the CLI's preprocessing for images that are not 28x28 white "
              "on black: inverted, cropped to the ink, fitted in 20x20, centre of mass at (14, 14)). "
              f"{len(glyphs):,} images (glyphs a font draws no ink for are left out). The printed digits "
              f"`{DIGITS}` are made the same way ({len(printed):,} images).",
              "", train_fonts_note(j.card, fonts),
              "", "## Font glyphs that pass at q5", "",
              "Per character: how many of its renderings (font x size) are not flagged.", ""]
    passed = defaultdict(list)
    total = defaultdict(int)
    for (font, size, ch), r in zip(glabels, results["font letters+symbols", 5][0]):
        total[ch] += 1
        if r == 0:
            passed[ch].append(f"{font}@{size}")
    lines += ["| char | passed | of |", "|---|---|---|"]
    for ch in sorted(passed, key=lambda c: (-len(passed[c]), c)):
        lines.append(f"| `{ch}` | {len(passed[ch])} | {total[ch]} |")
    lines += ["", f"Characters never passing at q5: `{''.join(c for c in LETTERS + SYMBOLS if c not in passed)}`"]
    lines += ["", "Printed digits flagged at q5, per digit: " + ", ".join(
        f"{d} {pct([r != 0 for (_, _, ch), r in zip(plabels, results['font digits (not a target)', 5][0]) if ch == d])}"
        for d in DIGITS)]

    import os
    from aezip.parallel import workers as _workers
    lines += ["", "## Cost", "",
              "The verdict alone (the classifier on originals and reconstructions, and the thresholds; the "
              "PSNR and the reconstructions come from the compressor anyway), beside the compressor's own "
              f"encode of the same images, in one run on this machine ({os.cpu_count()} cores, "
              f"{_workers()} worker threads, shared with other work):", "",
              "| set | quality | images | verdict s | per 10,000 images | images/s | encode s | verdict / encode |",
              "|---|---|---|---|---|---|---|---|"]
    for (name, q), (_, sec, enc) in results.items():
        if name in ("MNIST test", "Fashion-MNIST test"):
            n = len(sets[name])
            lines.append(f"| {name} | {q} | {n:,} | {sec:.3f} | {sec * 10000 / n:.3f} s | {n / sec:,.0f} | "
                         f"{enc:.3f} | {sec / enc:.2f} |")
    Path(args.out).write_text("\n".join(lines) + "\n")
    print(f"wrote {args.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
