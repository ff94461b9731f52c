"""Train the code dictionaries (aezip/codedicts.py, formats/aez.md Appendix C): one zstd
dictionary per quality level of the ladder, from the codes of MNIST training images.

    python scripts/make_code_dicts.py --data ../shared/mnist

A published dictionary never changes (archives written with it need exactly its bytes): a
level whose (model digest, level) already has one in the manifest is kept as it is, and only
missing ones are trained.  The manifest records, per dictionary, the mean Codes section of
MNIST *test* batches of 1, 10, 30 and 100 images with and without it.
"""

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np
import zstandard

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from aezip import archive, codedicts, zoo  # noqa: E402
from aezip.codec import AezCompressor  # noqa: E402
from aezip.idx import find_mnist, read_idx  # noqa: E402

DICT_SIZE = 4096
TRAIN_IMAGES = 30000
BATCH = 30   # the training samples: the dimension-major codes of 30 consecutive images


def section_bytes(codes, grid, digest, level, use_dict):
    """Whole Codes section bytes (header varint included) the writer would pick."""
    if not use_dict:
        saved = codedicts._loaded.pop(codedicts.key(digest, level), None)
        codedicts._loaded[codedicts.key(digest, level)] = None
    try:
        return len(archive.codes_section(codes, grid, digest, level))
    finally:
        if not use_dict:
            codedicts._loaded.pop(codedicts.key(digest, level))
            if saved is not None:
                codedicts._loaded[codedicts.key(digest, level)] = saved


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    ap.add_argument("--out", default=str(ROOT / "trained" / "codedicts"))
    ap.add_argument("--size", type=int, default=DICT_SIZE)
    a = ap.parse_args()
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    man_path = out / "manifest.json"
    man = json.loads(man_path.read_text()) if man_path.is_file() else {"dictionaries": {}}
    train = read_idx(find_mnist(a.data, "train")[0])[:TRAIN_IMAGES]
    test = read_idx(find_mnist(a.data, "test")[0])
    for level in range(1, 10):
        comp = AezCompressor(level, judge=False)
        digest, k = comp.model.digest, codedicts.key(comp.model.digest, level)
        if k in man["dictionaries"]:
            print(f"q{level}: {k} is published; kept as it is")
            continue
        codes, _ = comp.encode(train)
        dt = comp.grid.dtype
        samples = [np.ascontiguousarray(codes[i:i + BATCH].astype(dt).T).tobytes()
                   for i in range(0, len(codes), BATCH)]
        dict_id = int.from_bytes(hashlib.sha256(k.encode()).digest()[:4], "little") | 1 << 15
        d = zstandard.train_dictionary(a.size, samples, dict_id=dict_id, level=codedicts.DICT_LEVEL, threads=1)
        data = d.as_bytes()
        name = f"{k}.zdict"
        (out / name).write_bytes(data)
        entry = {"file": name, "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data),
                 "model": comp.model.name, "model_digest": digest.hex(), "level": level,
                 "trained_on": f"MNIST training images 0..{TRAIN_IMAGES - 1}, codes at level {level}, "
                               f"dimension-major batches of {BATCH}",
                 "zstandard": zstandard.__version__, "zstd": zstandard.ZSTD_VERSION}
        man["dictionaries"][k] = entry
        codedicts._manifest = man["dictionaries"]
        codedicts._loaded.clear()
        codedicts._dir = lambda: out
        tcodes, _ = comp.encode(test[:3000])
        entry["test_codes_section_bytes"] = {}
        for n in (1, 10, 30, 100):
            batches = [tcodes[i:i + n] for i in range(0, len(tcodes) - n + 1, max(n, 30))][:100]
            plain = np.mean([section_bytes(b, comp.grid, digest, level, False) for b in batches])
            withd = np.mean([section_bytes(b, comp.grid, digest, level, True) for b in batches])
            entry["test_codes_section_bytes"][str(n)] = {"without": round(float(plain), 2),
                                                         "with": round(float(withd), 2)}
        print(f"q{level}: {k} ({comp.model.name}) {len(data)} B;",
              ", ".join(f"{n} images {v['without']} -> {v['with']} B"
                        for n, v in entry["test_codes_section_bytes"].items()), flush=True)
    man["command"] = "python scripts/make_code_dicts.py --data ../shared/mnist"
    man_path.write_text(json.dumps(man, indent=2, sort_keys=True) + "\n")
    write_spec_table(man["dictionaries"])


SPEC = ROOT / "formats" / "aez.md"
BEGIN = "<!-- BEGIN CODE DICTIONARIES (written by scripts/make_code_dicts.py) -->"
END = "<!-- END CODE DICTIONARIES -->"


def write_spec_table(entries):
    """formats/aez.md Appendix C: the table of published dictionaries."""
    rows = ["| Level | model | `Model_Digest` | file | SHA-256 |", "|---:|---|---|---|---|"]
    for e in sorted(entries.values(), key=lambda e: (e["level"], e["model_digest"])):
        rows.append(f"| {e['level']} | {e['model']} | `{e['model_digest']}` | `{e['file']}` | `{e['sha256']}` |")
    spec = SPEC.read_text()
    spec = spec[:spec.index(BEGIN) + len(BEGIN)] + "\n" + "\n".join(rows) + "\n" + spec[spec.index(END):]
    SPEC.write_text(spec)


if __name__ == "__main__":
    main()
