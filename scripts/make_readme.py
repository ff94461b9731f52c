"""Fill the generated parts of README.md from the project's own measurements.

    python scripts/make_readme.py

Reads bench/codec.json (scripts/bench_codec.py), bench/mnist-test.md (aezip bench),
bench/lossless.json (scripts/bench_lossless.py), bench/small-files.md
(scripts/bench_small_files.py) and the model cards in trained/ (aezip train).  Rewrites only the text between the <!-- NAME:begin -->
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


def lossless_block():
    path = ROOT / "bench" / "lossless.json"
    if not path.exists():
        return "(run `python scripts/bench_lossless.py` first)"
    b = json.loads(path.read_text())
    lines = [f"The pixel mode (`--lossless`, `--max-error K`; pixel model `{b['model']}@{b['model_digest']}`): "
             "bytes per image of the whole archive against the general-purpose coders on the same images:", "",
             "| images | aezip lossless | xz -9e | zstd -19 | gzip -9 | PNG per file |", "|---|---|---|---|---|---|"]
    for d in b["lossless"]:
        by = {r["codec"]: r for r in d["rows"]}
        cell = lambda name: f"{by[name]['bytes_per_image']:.1f}" if name in by else "-"
        lines.append(f"| {d['dataset']} ({d['images']:,}) | **{cell('aezip lossless')}** "
                     f"({by['aezip lossless']['bit_per_px']:.3f} bit/px) | {cell('xz -9e')} | {cell('zstd -19')} | "
                     f"{cell('gzip -9')} | {cell('PNG')} |")
    lines += ["", "Near-lossless on the MNIST test set (every pixel within ±K of the input):", "",
              "| K | bytes/image | PSNR | max error |", "|---|---|---|---|"]
    for r in b["near_lossless"]:
        lines.append(f"| {r['max_error']} | {r['bytes_per_image']:.1f} | {r['psnr']:.2f} dB | {r['max_abs_error']} |")
    sp = b["speed"]
    lines += ["", f"Speed on this {b['cpus']}-core machine (same run, load average {b['load_average'][0]:.1f}): "
              f"encode {sp['aezip_encode_img_s']:,.0f} and decode {sp['aezip_decode_img_s']:,.0f} images/s "
              f"against xz -9e's encode {sp['xz_encode_img_s']:,.0f} images/s (the median of "
              f"{len(sp['runs'])} runs; over all runs, encode and decode were never below "
              f"{min(u['encode_vs_xz_encode'] for u in sp['runs']):.2f}x and "
              f"{min(u['decode_vs_xz_encode'] for u in sp['runs']):.2f}x xz -9e's encode speed).", "",
              f"Made by `{b['command']}` ([bench/lossless.md](bench/lossless.md)); `aezip bench` has the same rows "
              "beside the lossy codecs."]
    return "\n".join(lines)


def small_block():
    path = ROOT / "bench" / "small-files.md"
    if not path.exists():
        return "(run `python scripts/bench_small_files.py` first)"
    md = path.read_text().splitlines()
    rows = [l for l in md if l.startswith("| one digit") and any(f"| {q} |" in l for q in (1, 5, 9))
            or l.startswith("| the 30 sample") and "| 5 |" in l]
    notes = [l for l in md if l.startswith(("Fixed cost", "MNIST test set"))]
    made = next(l for l in md if l.startswith("Made by"))
    return "\n".join(["What an archive really costs, whole file, through the CLI:", "",
                      "| input | quality | .aez bytes | bytes/image | target | peer |", "|---|---|---|---|---|---|"]
                     + rows + [""] + notes + ["", made.replace("Made by", "Made by") + " ([bench/small-files.md]"
                                                   "(bench/small-files.md))"])


def accuracy_block():
    """The table scripts/train_on_compressed.py --fill docs/integrations.md wrote."""
    doc = (ROOT / "docs" / "integrations.md").read_text()
    begin, end = "<!-- accuracy-per-byte:begin -->", "<!-- accuracy-per-byte:end -->"
    body = doc[doc.index(begin) + len(begin):doc.index(end)].strip()
    return body.replace("](../bench/", "](bench/")


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
    text = replace_block(text, "lossless", lossless_block())
    text = replace_block(text, "small", small_block())
    text = replace_block(text, "accuracy-per-byte", accuracy_block())
    readme.write_text(text)
    print("README.md updated")


if __name__ == "__main__":
    main()
