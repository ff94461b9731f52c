"""What a version 2 archive leaves out because the model says it: the quantization grid of a
quality level, and the model's canonical digest (formats/aez.md §4.3 and Appendix A).

Both are pure functions of the decoder's description (its op list, arrays and calibration),
computed in IEEE binary64 then rounded to binary32 exactly as the spec states, so that any
implementation gets the same grid and digest.
"""

import hashlib
import json
import struct

import numpy as np

__all__ = ["STEP_FRACTION", "Grid", "grid_for", "code_bits", "canonical_digest"]

# §4.3: the step fraction of each quality level of a lossy version 2 file.  Part of the
# format: a level keeps its fraction for ever (a different step is stored as a table, level 0).
STEP_FRACTION = {1: 2.0, 2: 1.5, 3: 1.25, 4: 0.75, 5: 0.75, 6: 1.5, 7: 0.72, 8: 1.0, 9: 0.65}


class Grid:
    """A uniform scalar quantizer per code dimension: code q of dimension d stands for
    offsets[d] + q x steps[d] (binary32), q in 0 .. levels[d] - 1."""

    def __init__(self, offsets, steps, levels):
        self.offsets = np.asarray(offsets, np.float32)
        self.steps = np.asarray(steps, np.float32)
        self.levels = np.asarray(levels, np.int64)
        self.sample_size = 1 if self.levels.max() <= 256 else 2
        self.dtype = np.uint8 if self.sample_size == 1 else np.uint16

    @classmethod
    def from_table(cls, offsets, steps, sample_size, calibration):
        """A stored (custom) table: every code value of the sample size, provided the table
        stays near the range the model was trained on (:func:`check_table`)."""
        check_table(offsets, steps, sample_size, calibration)
        return cls(offsets, steps, np.full(len(offsets), 1 << (8 * sample_size)))

    def quantize(self, z):
        q = np.rint((z - self.offsets) / self.steps)
        np.clip(q, 0, self.levels - 1, out=q)
        return q.astype(self.dtype)

    def dequantize(self, q):
        return self.offsets + q.astype(np.float32) * self.steps

    @property
    def bits(self):
        """Bits a code of each dimension takes when a Codes section is stored packed (§5.1)."""
        return code_bits(self.levels)


TABLE_MARGIN = 100   # §4.3: a stored table may reach this many spans beyond the trained range


def check_table(offsets, steps, sample_size, calibration):
    """Raise ValueError unless every dimension's Offset lies within its trained range widened by
    TABLE_MARGIN times the model's widest span M on each side, and its Step is at most
    TABLE_MARGIN x M (formats/aez.md §4.3): an offset of 3e38 is finite, but the decoder would
    turn it into NaN."""
    lo = np.asarray(calibration["min"], np.float64)
    hi = np.asarray(calibration["max"], np.float64)
    span = max(float(np.max(hi - lo)), 1e-6)
    off = np.asarray(offsets, np.float32).astype(np.float64)
    step = np.asarray(steps, np.float32).astype(np.float64)
    if len(off) != len(lo):
        raise ValueError(f"quantization table has {len(off)} dimensions, the model {len(lo)}")
    low, high = lo - TABLE_MARGIN * span, hi + TABLE_MARGIN * span
    bad = np.flatnonzero(~((off >= low) & (off <= high) & (step > 0) & (step <= TABLE_MARGIN * span)))
    if len(bad):
        d = int(bad[0])
        raise ValueError(f"quantization table row {d} (offset {off[d]:g}, step {step[d]:g}) points outside "
                         f"the model's range: offsets {low[d]:g}..{high[d]:g}, steps up to {TABLE_MARGIN * span:g}")


def code_bits(levels):
    return np.array([max(1, int(n - 1).bit_length()) for n in np.asarray(levels)], np.int64)


def grid_for(calibration, fraction):
    """The grid at *fraction* times the model's step unit (§4.3).

    The unit is the step a rate-aware model was trained for (``quant_step``); the offsets
    then sit on that step's grid, shifted so that every dimension's mean lands on the same
    code value (zstd's Huffman tables fit better).  Other models use each dimension's
    standard deviation as the unit.  The range is the calibration's min..max widened by a
    quarter of the span on each side.
    """
    lo_c = np.asarray(calibration["min"], np.float64)
    hi_c = np.asarray(calibration["max"], np.float64)
    span = hi_c - lo_c
    trained = calibration.get("quant_step")
    if trained is not None:
        steps64 = np.asarray(trained, np.float64) * fraction
        center = np.round(np.asarray(calibration["mean"], np.float64) / steps64)
        below = int(np.max(center - np.floor((lo_c - 0.25 * span) / steps64)))
        offsets = ((center - below) * steps64).astype(np.float32)
        steps = steps64.astype(np.float32)
    else:
        # a dead code dimension (std 0, as in a collapsed network) still gets a valid step
        steps = (np.maximum(np.asarray(calibration["std"], np.float64), 1e-6) * fraction).astype(np.float32)
        offsets = (lo_c - 0.25 * span).astype(np.float32)
    top = hi_c + 0.25 * span
    levels = np.ceil((top - offsets.astype(np.float64)) / steps.astype(np.float64)) + 1
    return Grid(offsets, steps, np.minimum(levels, 65536).astype(np.int64))


def canonical_digest(meta, arrays):
    """SHA-256 of what decoding needs (Appendix A): the decoder ops, shapes, calibration and
    the decoder's arrays as little-endian binary32, independent of how the file was saved."""
    doc = {key: meta.get(key) for key in ("task", "latent_dim", "output_shape", "decoder", "calibration")}
    h = hashlib.sha256(b"aezip model v2\n")
    h.update(json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii"))
    params = sorted({op["param"] for op in meta["decoder"] if "param" in op})
    for name in (f"{p}.{part}" for p in params for part in ("weight", "bias")):
        if name not in arrays:
            continue
        a = np.ascontiguousarray(arrays[name], "<f4")
        h.update(b"\n" + name.encode("ascii") + struct.pack(f"<B{a.ndim}I", a.ndim, *a.shape))
        h.update(a.tobytes())
    return h.digest()
