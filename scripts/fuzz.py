"""Fuzz the .aez reader: a seeded mutation loop over real archives.

    python scripts/fuzz.py --count 100000 --seed 1
    python scripts/fuzz.py --liars             # archives that lie about their size: memory, time
    python scripts/fuzz.py --honest-bomb 100000

Every input goes through ``AezDecompressor.decompress`` (one decompressor,
models loaded once).  The contract checked for each input:

- it returns uint8 images of the shape its header states, or
- it raises ``BadAezFile`` (malformed, damaged, unsupported version), or
- it raises ``UnknownModel``, and only for a file that ``container.unpack``
  accepts (well formed, naming a model that is not installed);

anything else (another exception, a RuntimeWarning turned error, a run
longer than --slow seconds) is counted as unexpected and printed with the
input's seed so it can be replayed (``--replay N``).  The exit status is 1
when anything unexpected happened.

Kinds of input, in turn:
  random       random bytes (sometimes with the real magic and version)
  flip         1..8 random byte changes of a valid archive, CRC recomputed
  flip-nocrc   the same without fixing the CRC (must fail on the checksum)
  cut          truncate, extend or splice, CRC recomputed
  header       rewrite one fixed-header field with a hostile value, CRC recomputed
  section      decompress one section, mutate its plain bytes, re-frame it, fix
               lengths and CRC: exercises the parsers behind zstd (names, raw)
"""

import argparse
import resource
import struct
import sys
import time
import warnings
import zlib
from pathlib import Path

import numpy as np
import zstandard

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import aezip  # noqa: E402
from aezip import archive, container  # noqa: E402
from aezip.errors import BadAezFile, UnknownModel  # noqa: E402
from aezip.idx import read_idx  # noqa: E402

KINDS = ["random", "flip", "flip-nocrc", "cut", "header", "section"]
# (offset, struct format) of the fixed-header fields worth lying about
FIELDS = [(5, "<B"), (6, "<B"), (7, "<B"), (8, "<Q"), (16, "<I"), (20, "<H"), (22, "<H"),
          (24, "<H"), (26, "<B"), (27, "<B")]
HOSTILE = [0, 1, 2, 3, 255, 256, 0xFFFF, 0x10000, 1_000_000, 1_000_001, 0x7FFFFFFF, 0xFFFFFFFF]


def seed_archives():
    """Valid archives covering every flag and both sample sizes."""
    x = read_idx(REPO / "samples" / "t10k-first100-idx3-ubyte.gz")
    names = [f"d{i % 3}/{i:03d}.png" for i in range(12)]
    return [
        aezip.compress(x[:12]),
        aezip.compress(x[:12], names=names),
        aezip.compress(x[:12], names=names, min_psnr=20),
        aezip.compress(x[:3], quality=9, min_psnr=18),
        aezip.AezCompressor(1, store_psnr=False).compress(x[:1]),
        aezip.AezCompressor(5).compress(x[:40], source_form=container.SOURCE_IDX),
    ]


def fix_crc(body):
    return bytes(body) + struct.pack("<I", zlib.crc32(bytes(body)))


def mutate_bytes(rng, b, k):
    b = bytearray(b)
    for _ in range(k):
        op = rng.integers(4)
        i = int(rng.integers(len(b))) if b else 0
        if op == 0 and b:
            b[i] = int(rng.integers(256))
        elif op == 1 and b:
            b[i] ^= 1 << int(rng.integers(8))
        elif op == 2:
            b[i:i] = bytes(rng.integers(0, 256, int(rng.integers(1, 9)), dtype=np.uint8))
        elif b:
            del b[i:i + int(rng.integers(1, 9))]
    return bytes(b)


def make_input(rng, kind, seeds, spans):
    j = int(rng.integers(len(seeds)))
    src = seeds[j]
    if kind == "random":
        n = int(rng.integers(0, 400))
        data = bytes(rng.integers(0, 256, n, dtype=np.uint8))
        if rng.random() < 0.5:
            data = container.MAGIC + b"\x01" + data
        return fix_crc(data) if rng.random() < 0.5 else data
    if kind in ("flip", "flip-nocrc"):
        body = bytearray(src[:-4])
        for _ in range(int(rng.integers(1, 9))):
            i = int(rng.integers(5, len(body)))   # keep magic+version: reach the parser
            body[i] = (body[i] + int(rng.integers(1, 256))) % 256   # always a different value
        return fix_crc(body) if kind == "flip" else bytes(body) + src[-4:]
    if kind == "cut":
        body = src[:-4]
        op = rng.integers(3)
        if op == 0:
            body = body[:int(rng.integers(len(body)))]
        elif op == 1:
            body = body + bytes(rng.integers(0, 256, int(rng.integers(1, 64)), dtype=np.uint8))
        else:
            a = int(rng.integers(0, len(body) - 1))
            b = int(rng.integers(a + 1, len(body)))
            body = body[:a] + body[b:] if rng.random() < 0.5 else body[:b] + body[a:]
        return fix_crc(body)
    if kind == "header":
        body = bytearray(src[:-4])
        for _ in range(int(rng.integers(1, 3))):
            off, fmt = FIELDS[int(rng.integers(len(FIELDS)))]
            top = 1 << (8 * struct.calcsize(fmt))
            v = int(HOSTILE[int(rng.integers(len(HOSTILE)))] % top) if rng.random() < 0.7 \
                else int(rng.integers(0, min(top, 1 << 62)))
            struct.pack_into(fmt, body, off, v)
        return fix_crc(body)
    # section: mutate the plain bytes behind one zstd frame and re-frame them
    a, b = spans[j][int(rng.integers(len(spans[j])))]
    plain = zstandard.ZstdDecompressor().decompress(src[a:b])
    plain = mutate_bytes(rng, plain, int(rng.integers(1, 5)))
    # now and then a frame that does not declare its size, or carries a checksum
    frame = zstandard.ZstdCompressor(level=1, write_content_size=rng.random() > 0.1,
                                     write_checksum=rng.random() < 0.2).compress(plain)
    length = len(frame) if rng.random() < 0.9 else int(rng.integers(0, 2 * len(frame) + 8))
    body = src[:a - 4] + struct.pack("<I", length) + frame + src[b:-4]
    return fix_crc(body)


def check(dec, data):
    """'ok', 'bad', 'unknown-model', or 'UNEXPECTED: ...' for one input."""
    try:
        images = dec.decompress(data)
    except UnknownModel as e:
        try:
            archive.read(data)
        except Exception as e2:  # noqa: BLE001
            return f"UNEXPECTED: UnknownModel for a malformed file ({e2!r}): {e}"
        return "unknown-model"
    except BadAezFile:
        return "bad"
    except Exception as e:  # noqa: BLE001
        return f"UNEXPECTED: {type(e).__name__}: {e}"
    h = archive.read(data)
    if images.dtype != np.uint8 or images.shape != (h.count, h.height, h.width):
        return f"UNEXPECTED: decoded {images.dtype} {images.shape} for a header of {h.count} images"
    return "ok"



# ---- archives that lie about their size (tests/test_trust_hostile_archives.py) ------

def _hand_built(count, height=28, width=28, latent=9, sample=1, frame=None, flags=0, tail=b"",
                length=None):
    """A small file with a valid CRC whose header claims what we like."""
    body = container.FIXED.pack(container.MAGIC, 1, flags, 5, sample, b"\x11" * 8, count, height, width,
                                latent, 4, 0) + b"mlp9" + struct.pack("<ff", 0.0, 1.0) * min(latent, 9)
    if frame is None:
        frame = zstandard.ZstdCompressor().compress(b"\x00" * 9)
    body += struct.pack("<I", len(frame) if length is None else length) + frame + tail
    return body + struct.pack("<I", zlib.crc32(body))


def _lying_frame(declared, content):
    """A zstd frame whose header declares *declared* bytes but which holds *content*."""
    real = zstandard.ZstdCompressor(write_content_size=False).compress(content)
    assert zstandard.get_frame_parameters(real).content_size == zstandard.CONTENTSIZE_UNKNOWN
    # rebuild the frame header: magic, descriptor with an 8-byte content size field
    magic, fhd = real[:4], real[4]
    window = real[5:6] if not fhd & 0x20 else b""
    rest = real[5 + len(window):]
    fhd = (fhd & 0x3F) | 0xC0          # Frame_Content_Size_flag = 3: 8 bytes
    return magic + bytes([fhd]) + window + struct.pack("<Q", declared) + rest


def _sec(frame):
    return struct.pack("<I", len(frame)) + frame


def liars():
    """{what it claims: file bytes}: small files, valid CRC, claims their content cannot back."""
    zeros = zstandard.ZstdCompressor(level=3).compress(bytes(9_000_000))  # honest 9 MB of codes
    return {
        "4 billion images": _hand_built(0xFFFFFFFF),
        "a million images, 9-byte codes": _hand_built(1_000_000),
        "65535x65535 pixels": _hand_built(1, 65535, 65535),
        "65535 code values": _hand_built(1, latent=65535),
        "section length 4 GiB": _hand_built(1, length=0xFFFFFFFF),
        "codes frame declares 9 MB, holds 9 bytes": _hand_built(
            1_000_000, frame=_lying_frame(9_000_000, b"\x00" * 9)),
        "names frame declares 4 GB, holds 3 bytes": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_NAMES,
            tail=_sec(_lying_frame(4_000_000_000, b"\x01\x00a"))),
        "names frame declares 4.1 GB (over the limit)": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_NAMES,
            tail=_sec(_lying_frame(4_100_000_000, b"\x01\x00a"))),
        "raw section claims a million images": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_RAW,
            tail=_sec(_lying_frame(4 + 1_000_000 * 788, struct.pack("<II", 1_000_000, 0)))),
        "psnr frame declares 1 MB, holds 3 bytes": _hand_built(
            1_000_000, frame=zeros, flags=container.FLAG_PSNR, tail=_sec(_lying_frame(1_000_000, b"abc"))),
    }


MEMORY_PROBE = r"""
import json, resource, sys, time, tracemalloc
def peak_mb():
    # VmHWM: this process image's peak RSS (ru_maxrss can carry the forking parent's
    # peak across exec on Linux); ru_maxrss where /proc is missing
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
sys.path.insert(0, sys.argv[1])
import aezip
from aezip.errors import BadAezFile
files = json.loads(sys.stdin.read())
dec = aezip.AezDecompressor()
base = peak_mb()
tracemalloc.start()
out = {"results": {}, "ms": {}}
for name, hexdata in files.items():
    data = bytes.fromhex(hexdata)
    t = time.perf_counter()
    try:
        dec.decompress(data)
        out["results"][name] = "accepted"
    except BadAezFile as e:
        out["results"][name] = "refused"
    out["ms"][name] = 1e3 * (time.perf_counter() - t)
out["traced_peak_mb"] = tracemalloc.get_traced_memory()[1] / 2**20
out["peak_rss_mb"] = peak_mb()
out["base_mb"] = base
print(json.dumps(out))
"""


def probe_memory(files):
    """Decompress each of {name: bytes} in one fresh process; its results and peak memory."""
    import json
    import subprocess
    res = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(REPO)],
                         input=json.dumps({k: v.hex() for k, v in files.items()}),
                         capture_output=True, text=True, timeout=300)
    if res.returncode:
        raise RuntimeError(res.stderr)
    return json.loads(res.stdout)


def report_liars():
    """One fresh process per lying archive: result, time, peak RSS."""
    print(f"{'archive':<46} {'bytes':>6} {'result':>8} {'ms':>7} {'peak RSS':>9} {'traced':>8}")
    worst = 0.0
    for name, data in liars().items():
        out = probe_memory({name: data})
        worst = max(worst, out["peak_rss_mb"])
        print(f"{name:<46} {len(data):>6} {out['results'][name]:>8} {out['ms'][name]:>7.2f} "
              f"{out['peak_rss_mb']:>6.0f} MiB {out['traced_peak_mb']:>5.1f} MiB")
    print(f"baseline (interpreter, numpy, zstandard, no archive): {out['base_mb']:.0f} MiB; worst peak {worst:.0f} MiB")
    return 0 if worst < 100 else 1


def report_honest_bomb(n):
    """A well-formed archive of n identical images: tiny file, large (bounded) output."""
    from dataclasses import replace
    h = archive.read(aezip.compress(np.zeros((1, 28, 28), np.uint8)))
    data = container.pack(replace(h, count=n), np.zeros((n, h.latent_dim), np.uint8),
                          psnr=np.zeros(n, np.uint8))
    out = probe_memory({"bomb": data})
    print(f"{n} identical images: {len(data)}-byte file, {out['results']['bomb']} in {out['ms']['bomb']:.0f} ms, "
          f"peak RSS {out['peak_rss_mb']:.0f} MiB (decoded images alone: {n * 784 / 2**20:.0f} MiB)")
    return 0

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--count", type=int, default=100_000, help="inputs to try")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--slow", type=float, default=1.0, help="seconds after which one input counts as a hang")
    ap.add_argument("--replay", type=int, default=None, help="run only input number N and show it")
    ap.add_argument("--liars", action="store_true",
                    help="instead: time and peak memory of archives that lie about their size")
    ap.add_argument("--honest-bomb", type=int, metavar="N",
                    help="instead: peak memory of a well-formed archive of N identical images")
    args = ap.parse_args(argv)
    if args.liars:
        return report_liars()
    if args.honest_bomb:
        return report_honest_bomb(args.honest_bomb)

    warnings.simplefilter("error")   # a RuntimeWarning from numpy (overflow, NaN cast) is a finding
    seeds = seed_archives()
    spans = [archive.section_spans(s) for s in seeds]
    dec = aezip.AezDecompressor()
    for s in seeds:
        assert check(dec, s) == "ok"
    tally = {k: {} for k in KINDS}
    unexpected, slowest, slowest_n = [], 0.0, None
    start = time.perf_counter()
    todo = [args.replay] if args.replay is not None else range(args.count)
    for n in todo:
        rng = np.random.default_rng([args.seed, n])
        kind = KINDS[n % len(KINDS)]
        data = make_input(rng, kind, seeds, spans)
        t = time.perf_counter()
        got = check(dec, data)
        dt = time.perf_counter() - t
        if kind == "flip-nocrc" and got != "bad" and data not in seeds:
            got = "UNEXPECTED: a changed file passed the checksum"
        if dt > slowest:
            slowest, slowest_n = dt, n
        if dt > args.slow:
            got = f"UNEXPECTED: took {dt:.2f} s"
        if args.replay is not None:
            print(f"input {n} ({kind}, {len(data)} bytes): {got}\n{data.hex()}")
        key = got if not got.startswith("UNEXPECTED") else "UNEXPECTED"
        tally[kind][key] = tally[kind].get(key, 0) + 1
        if got.startswith("UNEXPECTED"):
            unexpected.append((n, kind, got))
            if len(unexpected) <= 20:
                print(f"input {n} ({kind}): {got}", file=sys.stderr)
    wall = time.perf_counter() - start
    total = sum(sum(v.values()) for v in tally.values())
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{total} inputs, seed {args.seed}, {wall:.1f} s ({1e6 * wall / max(total, 1):.0f} us/input), "
          f"slowest {1e3 * slowest:.1f} ms (input {slowest_n}), peak RSS {peak:.0f} MiB")
    print(f"{'kind':<12} {'inputs':>8} {'ok':>8} {'bad':>8} {'unknown':>8} {'UNEXPECTED':>10}")
    for kind, t in tally.items():
        print(f"{kind:<12} {sum(t.values()):>8} {t.get('ok', 0):>8} {t.get('bad', 0):>8} "
              f"{t.get('unknown-model', 0):>8} {t.get('UNEXPECTED', 0):>10}")
    print(f"unexpected: {len(unexpected)}")
    return 1 if unexpected else 0


if __name__ == "__main__":
    sys.exit(main())
