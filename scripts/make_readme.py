"""Fill the generated parts of README.md from the project's own measurements.

    python scripts/make_readme.py

Reads bench/codec.json (scripts/bench_codec.py), bench/mnist-test.md (aezip bench), and the
model cards in trained/ (aezip train).  Rewrites only the text between the <!-- NAME:begin -->
and <!-- NAME:end --> markers.
"""

import json
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def replace_block(text, name, body):
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    i, j = text.index(begin) + len(begin), text.index(end)
    return text[:i] + "\n" + body.strip() + "\n" + text[j:]


def codec_block():
    path = ROOT / "bench" / "codec.json"
    if not path.exists():
        return "(run `python scripts/bench_codec.py` first)"
    r = json.loads(path.read_text())
    rows = r["rows"]
    lines = [
        "MNIST test set, 10,000 images, default setting (quality "
        f"{rows['aezip_quality']}, model `{rows['aezip_model']}`):", "",
        "| | aezip | gzip -9 (whole stream) |", "|---|---|---|",
        f"| bytes per image (whole file) | **{rows['aezip_bytes_per_image']:.2f}** | {rows['gzip9_bytes_per_image']:.1f} |",
        f"| smaller than gzip -9 | **{rows['gzip_over_aezip']:.1f}x** | 1x |",
        f"| PSNR | {rows['aezip_psnr']:.2f} dB (lossy) | lossless |",
        f"| encode, images/s | {rows['encode_images_per_s']:,.0f} | {rows['gzip9_stream_images_per_s']:,.0f} |",
        f"| decode, images/s | {rows['decode_images_per_s']:,.0f} | (Pillow PNG: {rows['pillow_png_decode_images_per_s']:,.0f}) |",
        "", f"Made by `{r['command']}` ([bench/codec.md](bench/codec.md)).",
    ]
    return "\n".join(lines)


def bench_block():
    path = ROOT / "bench" / "mnist-test.json"
    if not path.exists():
        return ""
    b = json.loads(path.read_text())
    keep = lambda r: (r["family"] == "aezip" or r["unit"] == "stream" and r["family"] != "pca"
                      or r["label"].startswith("PNG") or r["label"].startswith("gzip") and r["unit"] != "stream"
                      or r["label"].startswith("JPEG") and r["setting"] == "q=1"
                      or r["label"].startswith("WebP lossy") and r["setting"] == "q=0"
                      or r["family"] == "pca" and r["setting"] in ("k=8", "k=16", "k=32", "k=64"))
    lines = ["", "", "Every codec on the same 10,000 test images, in one run of `aezip bench` (a selection of its "
             f"{len(b['rows'])} rows; all of them, with SSIM and speeds, in [bench/mnist-test.md](bench/mnist-test.md)):", "",
             "| codec | setting | bytes/image | x smaller than gzip -9 | PSNR | note |", "|---|---|---|---|---|---|"]
    for r in b["rows"]:
        if keep(r):
            p = "exact" if r["exact"] else f"{r['psnr']:.2f} dB"
            lines.append(f"| {r['label']} | {r['setting']} | {r['bytes_per_image']:.2f} | {r['ratio_gzip']:.1f} | {p} | {r['note']} |")
    lines += ["", f"Made by `{b['command']}`.", "", "![rate-distortion](bench/mnist-test.png)", ""]
    md = (ROOT / "bench" / "mnist-test.md").read_text()
    if "## Where aezip wins and where it loses" in md:
        part = md.split("## Where aezip wins and where it loses", 1)[1].split("\n## ", 1)[0]
        bullets = [l for l in part.strip().splitlines() if l.startswith(("- ", "  - "))]
        lines += ["Where aezip wins and where it loses (computed by the same run):", ""]
        lines += [l for l in bullets if not l.startswith("- Speed")]
    if "## Images unlike digits" in md:
        part = md.split("## Images unlike digits", 1)[1].split("\n### ", 1)[0]
        lines += [""] + [l for l in part.strip().splitlines() if l.startswith("- ")]
    return "\n".join(lines)


def lr_block():
    cards = {}
    for p in list((ROOT / "trained").glob("*.json")) + list((ROOT / "trained").glob("*/*.json")):
        c = json.loads(p.read_text())
        if c.get("arch") == "mlp9" and "measured" in c:
            cards[c["name"]] = c
    lines = ["| run | command | test PSNR (float code) | final test MSE |", "|---|---|---|---|"]
    for name in sorted(cards, key=lambda n: cards[n]["config"]["lr"]):
        c = cards[name]
        lines.append(f"| {name} (lr {c['config']['lr']:g}) | `{c['command']}` | "
                     f"{c['measured']['test_psnr_float_code']:.2f} dB | {c['final_test_loss']:.4f} |")
    return "\n".join(lines)


def main():
    readme = ROOT / "README.md"
    text = readme.read_text()
    text = replace_block(text, "results", codec_block() + bench_block())
    text = replace_block(text, "lr", lr_block())
    readme.write_text(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
