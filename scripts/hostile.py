"""Hostile but valid .aez files, written from formats/aez.md alone, and the peak memory of
every command on each (issue 14: memory bounded by design).

    python scripts/hostile.py                 # the table: command x case -> peak RSS (MB)
    python scripts/hostile.py --case zero-codes-1M --command test

Each case is a file with a correct checksum that stays within (or claims just past) the
limits of §7: a million all-zero codes, names and Raw sections at their limits, frames that
claim far more than the limits.  Each command runs in a fresh interpreter
(``aezip.cli.run``) that reports its own peak resident set (VmHWM), plus, where it forked
worker processes, the workers' count times the largest worker's peak.
"""

import argparse
import json
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

import numpy as np
import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from aezip import container, container_v2 as v2  # noqa: E402

LIMIT_MB = 300
MILLION = 1_000_000


# ---- building blocks, from the spec ------------------------------------------------------

def varint(n):
    return v2.write_varint(n)


def frame(data, level=3):
    """One zstd frame declaring its size (§3), of bytes or of an iterable of byte pieces
    whose total is *size*."""
    return zstandard.ZstdCompressor(level=level, write_content_size=True).compress(data)


def repeated_frame(byte, size, piece=1 << 22):
    """An honest zstd frame of *size* copies of *byte*, made without holding them."""
    coder = zstandard.ZstdCompressor(level=1, write_content_size=True).compressobj(size=size)
    block = bytes([byte]) * piece
    parts = []
    for lo in range(0, size, piece):
        parts.append(coder.compress(block[:min(piece, size - lo)]))
    parts.append(coder.flush())
    return b"".join(parts)


def stored(content):
    return varint(2 * len(content) + v2.STORED) + content


def zstd(framed):
    return varint(2 * len(framed) + v2.ZSTD) + framed


def v2_file(count, codes_section, *, level=5, digest=None, flags=0, form=0, names=None, psnr=None,
            raw=None):
    """A version 2 lossy file: sections given as their bytes (header and content)."""
    if digest is None:
        from aezip.zoo import ladder_row, get_codec_model
        digest = get_codec_model(ladder_row(level)[0]).digest
    flags |= (v2.FLAG_NAMES if names else 0) | (v2.FLAG_PSNR if psnr else 0) | (v2.FLAG_RAW if raw else 0)
    body = v2.FIXED.pack(v2.MAGIC, 2, flags, level | form << v2.FORM_SHIFT, digest) + varint(count)
    body += codes_section + (names or b"") + (psnr or b"") + (raw or b"")
    return body + struct.pack("<I", zlib.crc32(body))


def zero_codes(count, level=5):
    """The zstd Codes section of *count* images whose codes are all 0 (dimension-major)."""
    from aezip.zoo import ladder_row, get_codec_model
    dims = get_codec_model(ladder_row(level)[0]).latent_dim
    return zstd(repeated_frame(0, count * dims))


def raw_part(indices, content_section):
    gaps = [indices[0]] + [b - a - 1 for a, b in zip(indices, indices[1:])]
    return varint(len(indices)) + b"".join(varint(g) for g in gaps) + v2.PLAIN_PIXELS + content_section


def names_blob(names):
    return b"".join(varint(len(b)) + b for b in (n.encode() for n in names))


def v1_file(count, codes_frame, *, flags=0, tail=b"", latent=9, form=0):
    """A version 1 file (Appendix B) naming mlp9, a ladder table of zeros and ones."""
    body = container.FIXED.pack(container.MAGIC, 1, flags, 5, 1, _v1_digest(), count, 28, 28, latent, 4, form) + b"mlp9"
    body += struct.pack("<ff", 0.0, 0.1) * latent
    body += struct.pack("<I", len(codes_frame)) + codes_frame + tail
    return body + struct.pack("<I", zlib.crc32(body))


def _v1_digest():
    import hashlib
    return hashlib.sha256((REPO / "trained" / "mlp9.npz").read_bytes()).digest()[:8]


def v1_section(framed):
    return struct.pack("<I", len(framed)) + framed


# ---- the cases ------------------------------------------------------------------------------

def tokenized_names(text, count):
    """A stored tokenized Names section (§5.2.1): every name is *text* then its index, the
    numbers a delta column of step 1 and 0 bits, so the section is tiny whatever *count* is."""
    t = text.encode()
    content = (bytes([v2.NAMES_TOKENIZED]) + varint(2) + varint(2 * len(t)) + t + varint(1)
               + bytes([1]) + varint(2))   # Delta, 0 bits, base +1 (zigzag 2): 1, 2, 3, ...
    return stored(content)


def dict_codes(count, level=5):
    """A Codes dictionary frame (§5.1.1) of *count* images whose codes are all 0."""
    from aezip import codedicts
    from aezip.zoo import ladder_row, get_codec_model
    m = get_codec_model(ladder_row(level)[0])
    d = codedicts.dictionary(m.digest, level)
    coder = zstandard.ZstdCompressor(dict_data=d, write_dict_id=False, write_content_size=True, level=1)
    size = count * m.latent_dim
    obj, piece, parts = coder.compressobj(size=size), 1 << 22, []
    for lo in range(0, size, piece):
        parts.append(obj.compress(bytes(min(piece, size - lo))))
    parts.append(obj.flush())
    return zstd(b"".join(parts)[4:])


def long_names(n, length=1024):
    """*n* distinct valid names of *length* UTF-8 bytes: four 200-byte folders and a file."""
    head = "/".join(c * 200 for c in "abcd") + "/"
    tail = length - len(head)
    return [f"{head}{i:0{tail - 4}d}.png" for i in range(n)]


def cases():
    """{name: (builder, commands it is measured with, what it is)}; builders return bytes."""
    every = ["info", "info -v", "info -v --json", "test", "show", "extract npy", "extract idx"]
    named = ["info", "info -v", "info -v --json", "test", "show"]
    return {
        "zero-codes-1M": (lambda: v2_file(MILLION, zero_codes(MILLION), psnr=zstd(frame(bytes(MILLION)))),
                          every, "10^6 images whose codes are all 0, Psnr section: an honest bomb"),
        "zero-codes-100k": (lambda: v2_file(100_000, zero_codes(100_000)),
                            ["extract png"], "10^5 images of all-zero codes, no names: 100,000 PNG files"),
        "names-claim-1G": (lambda: v2_file(MILLION, zero_codes(MILLION), names=zstd(repeated_frame(0x10, MILLION * 1026))),
                           named, "10^6 images, a Names frame of 10^6 x 1,026 bytes (over the 64 MiB limit), "
                                  "one repeated byte"),
        "names-1M": (lambda: v2_file(MILLION, zero_codes(MILLION),
                                     names=zstd(frame(names_blob(f"{'n' * 50}{i:07d}.png" for i in range(MILLION))))),
                     named, "10^6 distinct 62-byte names (63 MB, under the 64 MiB limit)"),
        "long-names-65k": (lambda: v2_file(65_000, zero_codes(65_000),
                                           names=zstd(frame(names_blob(long_names(65_000))))),
                           named + ["extract png"], "65,000 distinct 1,024-byte names (67 MB decoded, at the limit)"),
        "held-limit": (lambda: v2_file(MILLION, zero_codes(MILLION, 9), level=9,
                                       names=zstd(frame(names_blob(f"{'n' * 50}{i:07d}.png" for i in range(MILLION))))),
                       ["info", "info -v", "info -v --json", "test", "show"],
                       "10^6 images at quality 9 (128 MB of codes) and 63 MB of names: 192 MiB held, the §7 limit"),
        "names-tokenized-1M": (lambda: v2_file(MILLION, zero_codes(MILLION), names=tokenized_names("n" * 50, MILLION)),
                               named, "10^6 images, a 60-byte tokenized Names section that makes 10^6 names "
                                      "(58 MB as a plain list, under the 64 MiB limit)"),
        "names-tokenized-claim-1G": (lambda: v2_file(MILLION, zero_codes(MILLION),
                                                     names=tokenized_names("n" * 1000, MILLION)),
                                     named, "10^6 images, a 1 KB tokenized Names section whose names would "
                                            "take 1 GB (over the 64 MiB limit)"),
        "dict-codes-1M": (lambda: v2_file(MILLION, dict_codes(MILLION)),
                          every, "10^6 images of all-zero codes as a Codes dictionary frame (§5.1.1)"),
        "raw-claim-784M": (lambda: v2_file(MILLION, zero_codes(MILLION),
                                           raw=raw_part(list(range(MILLION)), zstd(repeated_frame(0, MILLION * 784)))),
                           every, "a Raw section of 10^6 copies (784 MB of zeros) in a small file"),
        "raw-65k": (lambda: v2_file(65_536, zero_codes(65_536),
                                    raw=raw_part(list(range(65_536)), zstd(repeated_frame(0, 65_536 * 784)))),
                    every, "65,536 exact copies, 51 MB decoded (the Raw limit)"),
        "v1-names-claim-4G": (lambda: v1_file(MILLION, repeated_frame(0, MILLION * 9), flags=container.FLAG_NAMES,
                                              tail=v1_section(repeated_frame(0x10, MILLION * 4098))),
                              named, "version 1: a Names frame of 10^6 x 4,098 bytes, one repeated byte"),
        "v1-raw-claim-784M": (lambda: v1_file(MILLION, repeated_frame(0, MILLION * 9), flags=container.FLAG_RAW,
                                              tail=v1_section(repeated_frame(0, 4 + MILLION * 788))),
                              every, "version 1: a Raw section of 10^6 copies claimed in a small file"),
        "v1-zero-codes-1M": (lambda: v1_file(MILLION, repeated_frame(0, MILLION * 9)),
                             every, "version 1: 10^6 images of all-zero codes"),
    }


# ---- measuring -----------------------------------------------------------------------------

PROBE = r"""
import sys
sys.path.insert(0, sys.argv[1])
from aezip import cli
try:
    rc = cli.run(sys.argv[2:])
except SystemExit as e:
    rc = e.code
peak = 0
for line in open("/proc/self/status"):
    if line.startswith("VmHWM:"):
        peak = int(line.split()[1]) / 1024
# worker processes (the lossless coder forks them): counted as if every worker had peaked as
# high as the largest one, on top of this process (an upper bound: forked pages are shared)
import resource
from aezip import parallel
child = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
if child:
    peak += parallel.workers() * child
sys.stderr.write(f"\nPEAK_MB {peak:.1f} RC {rc}\n")
"""


def command_args(command, path, workdir):
    """The aezip arguments of *command* ("extract npy", "info -v --json", ...) on *path*."""
    words = command.split()
    if words[0] == "extract":
        form = words[1]
        out = Path(workdir) / ("out" if form == "png" else f"out.{form}")
        return ["extract", "-q", "-f", "--format", form, str(path), "-o", str(out)]
    if words[0] == "show":
        return ["show", "-q", "-f", str(path), "-o", str(Path(workdir) / "show.png")]
    return words + [str(path)]


def measure(command, path, workdir):
    """(peak RSS in MB, exit status, last stderr line) of one command in a fresh interpreter."""
    res = subprocess.run([sys.executable, "-c", PROBE, str(REPO)] + command_args(command, path, workdir),
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, timeout=1800)
    tail = res.stderr.strip().splitlines()
    peak_line = [t for t in tail if t.startswith("PEAK_MB")]
    if not peak_line:
        raise RuntimeError(f"{command} {path}: no peak reported (exit {res.returncode}): {res.stderr[-2000:]}")
    _, peak, _, rc = peak_line[-1].split()
    said = next((t for t in reversed(tail) if t and not t.startswith("PEAK_MB")), "")
    return float(peak), int(rc) if rc != "None" else 0, said


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--case", action="append", help="only this case (repeatable)")
    ap.add_argument("--command", action="append", help="only this command (repeatable)")
    ap.add_argument("--json", action="store_true", help="one JSON line per measurement")
    ap.add_argument("--markdown", action="store_true",
                    help="end with a table: case x command -> peak RSS in MB (r: refused, exit 1)")
    args = ap.parse_args(argv)
    worst, rows = 0.0, {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, (build, commands, what) in cases().items():
            if args.case and name not in args.case:
                continue
            path = Path(tmp) / f"{name}.aez"
            path.write_bytes(build())
            if not args.json:
                print(f"{name}: {path.stat().st_size:,} bytes; {what}")
            for command in commands:
                if args.command and command not in args.command:
                    continue
                peak, rc, said = measure(command, path, tmp)
                worst = max(worst, peak)
                rows.setdefault((name, path.stat().st_size), {})[command] = f"{peak:.0f}" + (" r" if rc == 1 else "")
                if args.json:
                    print(json.dumps({"case": name, "bytes": path.stat().st_size, "command": command,
                                      "peak_mb": peak, "exit": rc, "said": said}), flush=True)
                else:
                    print(f"  {command:<16} {peak:>7.1f} MB  exit {rc}  {said[:110]}", flush=True)
    if args.markdown:
        columns = ["info", "info -v", "info -v --json", "test", "show", "extract npy", "extract idx", "extract png"]
        print("\n| case | file bytes | " + " | ".join(f"`{c}`" for c in columns) + " |")
        print("|---|---:|" + "---:|" * len(columns))
        for (name, size), got in rows.items():
            print(f"| {name} | {size:,} | " + " | ".join(got.get(c, "") for c in columns) + " |")
    print(f"worst peak {worst:.1f} MB (limit {LIMIT_MB} MB)")
    return 0 if worst <= LIMIT_MB else 1


if __name__ == "__main__":
    sys.exit(main())
