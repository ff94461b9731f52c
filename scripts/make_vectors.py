"""Write the .aez test vectors in formats/vectors/ and the worked hex dump in formats/aez.md.

    python scripts/make_vectors.py

Valid vectors come with the decoded output they must give (``NAME.expected.npy``, uint8 (N, 28, 28));
invalid ones are listed in ``formats/vectors/manifest.json`` with the error a reader must raise.
Decoded pixels may differ by at most 1 gray level between machines (float32 rounding in the
decoder's matrix products), so a conforming decoder matches the expected output within ±1.
"""

import json
import struct
import zlib
from pathlib import Path

import numpy as np

import aezip
from aezip import container
from aezip.idx import read_idx

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "formats" / "vectors"
SPEC = ROOT / "formats" / "aez.md"
BEGIN, END = "<!-- hexdump:begin -->", "<!-- hexdump:end -->"


def recrc(body):
    return body + struct.pack("<I", zlib.crc32(body))


def annotated_dump(data):
    h = container.read_header(data)
    d = h.latent_dim
    fields = [(0, 4, "Magic"), (4, 1, "Format_Version = 1"), (5, 1, f"Flags = 0x{h.flags:02x} (Has_Psnr)"),
              (6, 1, f"Quality = {h.quality}"), (7, 1, f"Sample_Size = {h.sample_size}"),
              (8, 8, "Model_Digest"), (16, 4, f"Image_Count = {h.count}"), (20, 2, f"Height = {h.height}"),
              (22, 2, f"Width = {h.width}"), (24, 2, f"Latent_Dim = {d}"),
              (26, 1, f"Model_Name_Length = {len(h.model_name)}"), (27, 1, f"Source_Form = {h.source_form}"),
              (28, len(h.model_name), f"Model_Name = {h.model_name!r}")]
    pos = 28 + len(h.model_name)
    for i in range(d):
        fields.append((pos, 8, f"Quant_Table[{i}]: Offset = {h.offsets[i]:.6g}, Step = {h.steps[i]:.6g}"))
        pos += 8
    (n,) = struct.unpack_from("<I", data, pos)
    fields.append((pos, 4, f"Section_Length = {n} (Codes)"))
    fields.append((pos + 4, n, f"zstd frame: {h.count * d * h.sample_size} bytes of codes"))
    pos += 4 + n
    (m,) = struct.unpack_from("<I", data, pos)
    fields.append((pos, 4, f"Section_Length = {m} (Psnr)"))
    fields.append((pos + 4, m, "zstd frame: 1 byte of PSNR"))
    pos += 4 + m
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


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    x = read_idx(ROOT / "samples" / "t10k-first100-idx3-ubyte.gz")
    manifest = {"valid": {}, "invalid": {}}

    def valid(name, data, note):
        (OUT / f"{name}.aez").write_bytes(data)
        np.save(OUT / f"{name}.expected.npy", aezip.decompress(data), allow_pickle=False)
        manifest["valid"][name] = note

    one = aezip.compress(x[:1], quality=5)
    valid("one-seven", one, "1 image (MNIST test #0, a 7), quality 5, Psnr section")
    names = [f"{i % 10}/{i:05d}.png" for i in range(10)]
    valid("ten-named", aezip.compress(x[:10], quality=3, names=names), "10 images with names, quality 3")
    noise = np.random.default_rng(0).integers(0, 256, (2, 28, 28), dtype=np.uint8)
    valid("with-raw", aezip.compress(np.concatenate([x[:3], noise]), min_psnr=30),
          "3 digits + 2 noise images stored losslessly (Raw section, --min-psnr 30)")

    def invalid(name, data, error):
        (OUT / f"{name}.aez").write_bytes(data)
        manifest["invalid"][name] = error

    invalid("truncated", one[:-5], "checksum mismatch")
    flipped = bytearray(one)
    flipped[40] ^= 0x01
    invalid("bit-flip", bytes(flipped), "checksum mismatch")
    body = bytearray(one[:-4])
    body[4] = 2
    invalid("version-2", recrc(bytes(body)), "unsupported .aez format version 2")
    body = bytearray(one[:-4])
    body[5] |= 0x80
    invalid("reserved-flag", recrc(bytes(body)), "reserved flag bits set")
    body = bytearray(one[:-4])
    body[16:20] = struct.pack("<I", 0xFFFFFFFF)
    invalid("count-4-billion", recrc(bytes(body)), "image count 4294967295")
    invalid("not-aez", b"\x89PNG\r\n\x1a\n" + bytes(40), "not an .aez file")
    # Files written by earlier aezip versions, kept as they were (never regenerated): readers must
    # keep decoding them to the same images (their models stay installed).
    for path in sorted(OUT.glob("compat-*.aez")):
        h = aezip.read_header(path.read_bytes())
        manifest["valid"][path.stem] = (f"written by an earlier aezip ({path.stem.split('-', 1)[1][:10]}): "
                                        f"{h.count} image(s), model {h.model_id}, quality {h.quality}; kept as is")
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
