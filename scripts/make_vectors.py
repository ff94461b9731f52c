"""Write the .aez test vectors in formats/vectors/ and the worked hex dump in formats/aez.md.

    python scripts/make_vectors.py

Valid vectors come with the decoded output they must give (``NAME.expected.npy``, uint8 (N, 28, 28));
invalid ones are listed in ``formats/vectors/manifest.json`` with the error a reader must raise.
Decoded pixels may differ by at most 1 gray level between machines (float32 rounding in the
decoder's matrix products), so a conforming decoder matches the expected output within ±1.

A valid vector that a newer writer would write differently is not lost: before it is replaced,
the file it replaces (and its expected output) is kept as ``compat-<today>-NAME``, which every
later reader must keep decoding to the same images.
"""

import datetime

import json
import struct
import zlib
from pathlib import Path

import numpy as np

import aezip
from aezip import archive, container_v2
from aezip.codec import AezCompressor
from aezip.idx import read_idx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "formats" / "vectors"
SPEC = ROOT / "formats" / "aez.md"
BEGIN, END = "<!-- hexdump:begin -->", "<!-- hexdump:end -->"


def recrc(body):
    return body + struct.pack("<I", zlib.crc32(body))


def annotated_dump(data):
    """The worked example of formats/aez.md §8: every field of a version 2 file, annotated."""
    h = aezip.read_header(data)
    v = h._v2.header
    flag_names = [n for bit, n in ((1, "Has_Names"), (2, "Has_Psnr"), (4, "Has_Raw"), (8, "Pixel_Mode"),
                                   (16, "Has_Verdicts"), (32, "Judged"), (64, "Preprocessed")) if v.flags & bit]
    fields = [(0, 4, "Magic"), (4, 1, "Format_Version = 2"),
              (5, 1, f"Flags = 0x{v.flags:02x} ({' | '.join(flag_names) or 'none'})"),
              (6, 1, f"Level_And_Form: Level = {v.level} (quality), Source_Form = {v.source_form}"),
              (7, 8, f"Model_Digest ({h.model_id})")]
    n_count = len(container_v2.write_varint(h.count))
    fields.append((15, n_count, f"Image_Count = {h.count} (varint)"))
    pos = 15 + n_count
    for what, start, end in zip(["Codes", "Names", "Psnr", "Verdicts"], *zip(*archive.section_spans(data))):
        head = data[pos:start]
        value, _ = container_v2.read_varint(data, pos, "section header")
        method = "stored" if value & 1 == 0 else "zstd"
        fields.append((pos, len(head), f"Section_Header = {value}: {value >> 1} bytes, {method} ({what})"))
        note = {"Codes": f"{h.count} image(s) x {len(data[start:end]) * 8 // max(h.count, 1)} bits of codes, "
                         "bit-packed (§5.1)" if method == "stored" else "zstd frame of the codes",
                "Names": "names: varint length + UTF-8", "Psnr": "PSNR byte(s), 0.5 dB units",
                "Verdicts": "verdict byte(s)"}[what]
        fields.append((start, end - start, note))
        pos = end
    fields.append((pos, 4, f"Checksum = CRC-32 0x{zlib.crc32(data[:pos]):08x}"))
    assert pos + 4 == len(data)
    lines = []
    for off, size, what in fields:
        chunk = data[off:off + size]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        lines.append(f"{off:04x}  {hexes:<48} {what}" if len(chunk) <= 16 else
                     f"{off:04x}  {' '.join(f'{b:02x}' for b in chunk[:16]):<48} {what}\n" +
                     "\n".join(f"{off + k:04x}  {' '.join(f'{b:02x}' for b in chunk[k:k + 16])}"
                               for k in range(16, len(chunk), 16)))
    return "\n".join(lines)


# Invalid vectors written by earlier aezip versions, kept as they were, with the error a reader
# must still raise for each (version 1 layout; the version 2 reader reads version 1 too).
COMPAT_INVALID = {
    "compat-2026-11-26-truncated": "checksum mismatch",
    "compat-2026-11-26-bit-flip": "checksum mismatch",
    "compat-2026-11-26-version-2": "codes section",
    "compat-2026-11-26-reserved-flag": "reserved flag bits set",
    "compat-2026-11-26-count-4-billion": "image count 4294967295",
}


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = read_idx(ROOT / "samples" / "t10k-first100-idx3-ubyte.gz")
    manifest = {"valid": {}, "invalid": {}}

    today = datetime.date.today().isoformat()

    def valid(name, data, note):
        old = OUT / f"{name}.aez"
        if old.is_file() and old.read_bytes() != data:   # the older bytes stay as a compat vector
            keep = OUT / f"compat-{today}-{name}"
            if not keep.with_suffix(".aez").exists():
                keep.with_suffix(".aez").write_bytes(old.read_bytes())
                expected = OUT / f"{name}.expected.npy"
                (OUT / f"compat-{today}-{name}.expected.npy").write_bytes(expected.read_bytes())
                print(f"kept the previous {old.name} as {keep.name}.aez")
        (OUT / f"{name}.aez").write_bytes(data)
        np.save(OUT / f"{name}.expected.npy", aezip.decompress(data), allow_pickle=False)
        manifest["valid"][name] = note

    one = aezip.compress(x[:1], quality=5, names=["d.png"])
    valid("one-seven", one, "1 image (MNIST test #0, a 7) named d.png, quality 5: codes bit-packed, "
                            "Names and Psnr stored")
    names = [f"{i % 10}/{i:05d}.png" for i in range(10)]
    valid("ten-named", aezip.compress(x[:10], quality=3, names=names), "10 images with names, quality 3")
    valid("hundred-q9", aezip.compress(x, quality=9), "100 images at quality 9: codes in a zstd frame")
    noise = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    valid("with-raw", aezip.compress(np.concatenate([x[:3], noise]), min_psnr=30),
          "3 digits + 2 noise images stored exactly (Raw section, --min-psnr 30)")
    valid("custom-table", AezCompressor(step=0.9).compress(x[:4]),
          "4 images at a custom step (level 0: Quant_Table stored)")
    valid("lossless-ten", aezip.compress(x[:10], lossless=True, names=names),
          "10 images with names, lossless (pixel mode, Max_Error 0): decodes to the exact input")
    valid("near-lossless-k4", aezip.compress(x[10:20], max_error=4),
          "10 images, near-lossless: every pixel within ±4 (pixel mode, Max_Error 4)")
    valid("lossless-noise", aezip.compress(noise, lossless=True),
          "2 noise images, lossless: the pixel coder falls back to a stored chunk")

    from PIL import Image
    sample_dir = ROOT / "samples" / "digits"
    sample_paths = sorted(sample_dir.rglob("*.png"))
    samples = np.stack([np.asarray(Image.open(p).convert("L")) for p in sample_paths])
    sample_names = [p.relative_to(sample_dir).as_posix() for p in sample_paths]
    thirty = aezip.compress(samples, quality=5, names=sample_names)
    valid("thirty-samples", thirty,
          "the 30 sample digits with their names at quality 5, as `aezip compress samples/digits` writes "
          "them: Codes as a dictionary frame (§5.1.1), tokenized Names (§5.2.1), packed Psnr (§5.3.1)")
    valid("ten-q9-dict", aezip.compress(x[:10], quality=9),
          "10 images at quality 9: Codes as a dictionary frame with the level 9 dictionary (§5.1.1)")

    def invalid(name, data, error):
        (OUT / f"{name}.aez").write_bytes(data)
        manifest["invalid"][name] = error

    invalid("truncated", one[:-5], "checksum mismatch")
    flipped = bytearray(one)
    flipped[20] ^= 0x01
    invalid("bit-flip", bytes(flipped), "checksum mismatch")
    body = bytearray(one[:-4])
    body[4] = 3
    invalid("version-3", recrc(bytes(body)), "unsupported .aez format version 3")
    body = bytearray(one[:-4])
    body[5] |= 0x80
    invalid("reserved-flag", recrc(bytes(body)), "reserved flag bits set")
    body = bytearray(one[:-4])
    invalid("count-2-million", recrc(bytes(body[:15]) + container_v2.write_varint(2_000_000) + bytes(body[16:])),
            "image count 2000000 exceeds 1000000")
    invalid("count-not-minimal", recrc(bytes(body[:15]) + b"\x81\x00" + bytes(body[16:])),
            "image count at offset 15 is not a minimal varint")
    comp = AezCompressor(5)
    codes, _ = comp.encode(x[:1])
    codes[0, 0] = comp.grid.levels[0]          # one past the last code value of dimension 0
    invalid("code-out-of-range", archive.write_lossy(comp.model.digest, 5, comp.grid, codes),
            "outside its")
    bad_names = [("dot-dot-name", ["../escape.png"], "'..' component"),
                 ("bidi-name", ["evil\u202egnp.exe"], "invisible character"),
                 ("case-duplicates", ["a.png", "A.png"], "same file"),
                 ("device-name", ["NUL.png"], "reserved device name")]
    for name, given, error in bad_names:
        codes, scores = comp.encode(x[:len(given)])
        invalid(name, archive.write_lossy(comp.model.digest, 5, comp.grid, codes, names=given), error)
    lossless_one = bytearray(aezip.compress(x[:3], lossless=True)[:-4])
    lossless_one[6] = 5                         # Max_Error 5, but the payload was coded lossless
    invalid("pixel-level-mismatch", recrc(bytes(lossless_one)), "max_error")
    clean = aezip.compress(x[:3], lossless=True)
    damaged = bytearray(clean[:-4])
    start, end = archive.section_spans(clean)[0]
    damaged[(start + end) // 2] ^= 0x5A        # a flipped byte inside the coded pixels, checksum recomputed
    invalid("pixel-payload-damaged", recrc(bytes(damaged)), "lossless payload")
    _, start, end, _ = archive.section_layout(thirty)[0]
    dict_content = thirty[start:end]
    custom = AezCompressor(step=0.75).compress(samples)
    invalid("dict-frame-at-level-0", archive.replace_section(custom, 0, dict_content, container_v2.ZSTD),
            "at level 0")
    _, start, end, _ = archive.section_layout(thirty)[1]
    names_blob = bytearray(thirty[start:end])
    assert names_blob[0] == 0x00                 # stored, tokenized (§5.2.1)
    invalid("names-tokenized-extra-byte", archive.replace_section(thirty, 1, bytes(names_blob) + b"\x00"),
            "names' numbers take")
    _, start, end, _ = archive.section_layout(thirty)[2]
    psnr_blob = bytearray(thirty[start:end])
    psnr_blob[1] = 8                            # Psnr_Bits 8 (at most 7)
    invalid("psnr-packed-8-bits", archive.replace_section(thirty, 2, bytes(psnr_blob)), "at most 7")
    invalid("not-aez", b"\x89PNG\r\n\x1a\n" + bytes(40), "not an .aez file")
    # Files written by earlier aezip versions, kept as they were (never regenerated): readers must
    # keep decoding them to the same images (their models stay installed).
    for path in sorted(OUT.glob("compat-*.aez")):
        if path.stem in COMPAT_INVALID:
            manifest["invalid"][path.stem] = COMPAT_INVALID[path.stem]
            continue
        h = aezip.read_header(path.read_bytes())
        manifest["valid"][path.stem] = (f"written by an earlier aezip ({path.stem.split('-', 1)[1][:10]}, format "
                                        f"version {h.version}): {h.count} image(s), model {h.model_id}, "
                                        f"quality {h.quality}; kept as is")
    (OUT / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")

    spec = SPEC.read_text()
    dump = f"{BEGIN}\n```\n{annotated_dump(one)}\n```\n{END}"
    if BEGIN in spec:
        spec = spec[:spec.index(BEGIN)] + dump + spec[spec.index(END) + len(END):]
    else:
        spec = spec.replace("EXAMPLE_DUMP_PLACEHOLDER", dump)
    SPEC.write_text(spec)
    print(f"wrote {len(manifest['valid'])} valid and {len(manifest['invalid'])} invalid vectors to {OUT}")


if __name__ == "__main__":
    main()
