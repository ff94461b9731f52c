"""Measure zstd settings for the Codes section on the MNIST test set's codes at every quality level.

    python scripts/zstd_sweep.py --data ../shared/mnist [--markdown bench/zstd.md]

For each quality level's quantized codes (dimension-major, as the Codes section stores them) it
prints the compressed bytes per image and the best-of-3 compression time for each setting: zstd
levels as one block stream, and the same with one zstd block per code dimension (each dimension
then gets its own Huffman table).  The setting aezip uses is container.CODE_PARAMS, per dimension.

A second table measures the window against the batch size (1,000 and 10,000 test images, the
60,000 training images, all 70,000) at quality 1, 5 and 9: the window aezip picks,
container.code_window_log, grows with a dimension's row of codes.
"""

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import zstandard as zs

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from aezip import container, idx, zoo  # noqa: E402
from aezip.codec import AezCompressor  # noqa: E402


SETTINGS = [
    ("level 19, one stream (aezip 0.1)", 19, False),
    ("level 19, block per dimension", 19, True),
    ("level 3, block per dimension", 3, True),
    ("btopt search 1 min-match 5, block per dimension",
     dict(container.CODE_PARAMS, strategy=zs.STRATEGY_BTOPT, min_match=5), True),
    ("btultra search 1 min-match 6 window 19, block per dimension (aezip until 2026-12-02)",
     dict(container.CODE_PARAMS, window_log=19), True),
    ("btultra search 1 min-match 6 window 14, block per dimension (aezip at 10,000 images)",
     container.CODE_PARAMS, True),
]
WINDOW_LOGS = (14, 15, 16, 17, 19)
WINDOW_QUALITIES = (1, 5, 9)


def compress(setting, rows, per_dim):
    """One zstd frame of *rows* at a level (int) or with explicit parameters (dict)."""
    if isinstance(setting, int):
        compressor = zs.ZstdCompressor(level=setting, write_checksum=False)
    else:
        compressor = zs.ZstdCompressor(compression_params=zs.ZstdCompressionParameters(
            write_checksum=0, write_content_size=1, **setting))
    return container.blocked_frame(compressor, rows, 1 if per_dim else len(rows))


def code_rows(comp, images):
    """The quantized codes of *images* at *comp*'s level, dimension-major, as the Codes section holds them."""
    codes = comp.grid.quantize(comp.model.encode(images))
    return np.ascontiguousarray(codes.astype("<u1" if comp.grid.sample_size == 1 else "<u2").T)


def window_table(test, train):
    sets = [("test, first 1,000", test[:1000]), ("test", test), ("train", train),
            ("train + test", np.concatenate([train, test]))]
    lines = ["| quality | images | bytes per row | " + " | ".join(f"window {w}" for w in WINDOW_LOGS) + " |",
             "|" + "---|" * (3 + len(WINDOW_LOGS))]
    for q in WINDOW_QUALITIES:
        c = AezCompressor(q)
        for label, images in sets:
            rows = code_rows(c, images)
            pick = container.code_window_log(rows[0].nbytes)
            sizes = {w: len(compress(dict(container.CODE_PARAMS, window_log=w), rows, True)) for w in WINDOW_LOGS}
            if rows[0].nbytes >= container.CODE_BLOCK_MIN:  # code_frame's blocks: one row each
                assert len(container.code_frame(rows)) == sizes[pick]
            cells = [f"**{b:,}**" if w == pick else f"{b:,}" for w, b in sizes.items()]
            lines.append(f"| {q} | {label} ({len(images):,}) | {rows[0].nbytes:,} | " + " | ".join(cells) + " |")
            print(lines[-1], flush=True)
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    ap.add_argument("--markdown", help="write the table here")
    args = ap.parse_args(argv)
    images = idx.load_mnist(args.data, "test")[0]
    n = len(images)
    head = ["quality", "model"] + [s[0] for s in SETTINGS]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    totals = np.zeros((len(SETTINGS), 2))
    for q in sorted(zoo.LADDER):
        c = AezCompressor(q)
        rows = code_rows(c, images)
        cells = []
        for i, (_, setting, per_dim) in enumerate(SETTINGS):
            best = 1e9
            for _ in range(3):
                t0 = time.perf_counter()
                out = compress(setting, rows, per_dim)
                best = min(best, time.perf_counter() - t0)
            assert zs.ZstdDecompressor().decompress(out) == rows.tobytes()
            totals[i] += len(out) / n, best * 1000
            cells.append(f"{len(out) / n:.3f} B, {best * 1000:.1f} ms")
        lines.append(f"| {q} | {c.model.name} | " + " | ".join(cells) + " |")
        print(lines[-1], flush=True)
    lines.append("| sum | | " + " | ".join(f"{b:.2f} B, {t:.0f} ms" for b, t in totals) + " |")
    windows = window_table(images, idx.load_mnist(args.data, "train")[0])
    text = ("# zstd settings for the Codes section\n\n"
            f"Codes section bytes per image (codes only: no header, PSNR or names) and best-of-3 compression "
            f"time for the {n:,} MNIST test images, at each quality level.\n"
            f"Generated by `python scripts/zstd_sweep.py --data {args.data} --markdown bench/zstd.md`.\n\n"
            + "\n".join(lines) + "\n\n"
            "## The window against the batch size\n\n"
            "Codes section bytes (the aezip setting, block per dimension) at each window_log; "
            "**bold**: the window aezip picks (`container.code_window_log` of a dimension's row of codes).\n\n"
            + "\n".join(windows) + "\n")
    print(lines[-1])
    if args.markdown:
        Path(args.markdown).write_text(text)


if __name__ == "__main__":
    main()
