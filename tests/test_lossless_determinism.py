"""Identical payloads and pixels whatever numpy's SIMD dispatch and the thread count."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

# numpy 2.x dispatch targets on x86-64; each setting switches some SIMD kernels off.
SETTINGS = ["", "AVX512F", "AVX2 FMA3", "AVX512_ICL", "X86_V4 AVX512_ICL", "X86_V3 X86_V4 AVX512_ICL AVX512_SPR"]

SCRIPT = r"""
import hashlib, json, sys
import numpy as np
sys.path.insert(0, sys.argv[1])
from numpy._core._multiarray_umath import __cpu_features__, __cpu_dispatch__
from aezip import lossless
from aezip.lossless import layout
from aezip.idx import read_idx
layout.CHUNK = 8  # 24 images -> 4 chunks, so threads really split the work
layout.LAYOUTS[layout.LAYOUT_VERSION] = (4, 2)  # and each chunk codes 2 rounds of 3 images on 2 lanes
x = read_idx(sys.argv[1] + "/samples/t10k-first100-idx3-ubyte.gz")[:24]
assert len(layout.chunk_spans(len(x))) == 4 and layout.round_layout(6) == (2, 3, 2)  # the patch took
out = {"dispatch": [k for k in __cpu_dispatch__ if __cpu_features__.get(k)], "runs": {}}
for k in (0, 4):
    for t in (1, 2, 3):
        p = lossless.encode_pixels(x, max_error=k, threads=t)
        y = lossless.decode_pixels(p, len(x), 28, 28, max_error=k, threads=t)
        out["runs"][f"{k}/{t}"] = [hashlib.sha256(p).hexdigest(), hashlib.sha256(y.tobytes()).hexdigest()]
print(json.dumps(out))
"""


def _run(setting):
    env = dict(os.environ)
    env.pop("NPY_DISABLE_CPU_FEATURES", None)
    if setting:
        env["NPY_DISABLE_CPU_FEATURES"] = setting
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(REPO)], capture_output=True, text=True, env=env)
    if out.returncode:
        pytest.fail(f"NPY_DISABLE_CPU_FEATURES={setting!r}: {out.stderr.strip().splitlines()[-1]}")
    return json.loads(out.stdout)


def test_payload_and_pixels_identical_across_simd_and_threads():
    results = {s: _run(s) for s in SETTINGS}
    base = results[""]["runs"]
    for k in (0, 4):
        hashes = {tuple(base[f"{k}/{t}"]) for t in (1, 2, 3)}
        assert len(hashes) == 1, f"max_error {k}: bytes depend on the thread count"
    for s, r in results.items():
        assert r["runs"] == base, f"NPY_DISABLE_CPU_FEATURES={s!r} changes the payload or the pixels"
    # the settings must really have switched numpy's kernels (on a CPU that has them)
    dispatch = {tuple(r["dispatch"]) for r in results.values()}
    if len(results[""]["dispatch"]) > 0:
        assert len(dispatch) > 1
