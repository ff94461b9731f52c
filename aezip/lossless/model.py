"""The integer causal pixel model behind the lossless coder (numpy only).

Every pixel is predicted from already-coded ("causal") neighbours of the same
image plus its position.  All arithmetic that feeds the coder is exact:
integer-valued float64 arrays whose sums stay far below 2**53 (so any BLAS
summation order gives the same result), floor divisions by powers of two, and
lookups into integer tables stored with the weights.  formats/aez.md §5.7
states the rule; this module is its reference implementation.

Network (F = number of window offsets, H1, H2 hidden widths)::

    a1 = x @ w1 + p1[pos]                   x: the F causal pixels, 0..255
    h1 = clip(floor(a1 / 2**WF), 0, HMAX)
    a2 = h1 @ w2 + b2
    h2 = clip(floor(a2 / 2**WF), 0, HMAX)
    zg = h2 @ wg + bg                       gate logit: "pixel is 0"
    zc = h2 @ wc + bc                       16 logits: the value's high nibble v >> 4
    zf = h2 @ wf + bf                       16 x 16 logits: the low nibble v & 15, per high nibble

Activations carry HF = 8 fractional bits, weights WF = 10, so pre-activations
and logits carry HF + WF = 18.
"""

import hashlib
from pathlib import Path

import numpy as np

from ..zoo import trained_dir

__all__ = [
    "PixelModel",
    "load_default",
    "model_for_digest",
    "DEFAULT_MODEL_PATH",
    "PREC",
    "TOTAL",
    "HF",
    "WF",
    "HMAX",
    "GATE_STEP_BITS",
    "EXP_STEP_BITS",
    "SERIAL_MAGIC",
]

PREC = 16  # probability precision: every distribution sums to 2**PREC
TOTAL = 1 << PREC
HF = 8  # fractional bits of the activations h1, h2
WF = 10  # fractional bits of the weights w2, wg, wc, wf
HMAX = 4095  # activations are clipped to 0..HMAX (12 bits)
GATE_STEP_BITS = 4  # gate table index step: 1/16 of a logit unit
GATE_OFFSET = 256  # gate table index of logit 0
GATE_LEN = 512
EXP_STEP_BITS = 5  # value table index step: 1/32 nat
SERIAL_MAGIC = b"AEZPIX1\0"

# name, dtype, number of dimensions: the canonical order of the serialization.
ARRAY_SPEC = (
    ("window", 2),  # (F, 2) offsets (drow, dcol) of the causal neighbours, drow <= 0
    ("w1", 2),  # (F, H1)
    ("p1", 2),  # (H*W, H1) per-position bias of layer 1
    ("w2", 2),  # (H1, H2)
    ("b2", 1),  # (H2,)
    ("wg", 1),  # (H2,)
    ("bg", 1),  # (1,)
    ("wc", 2),  # (H2, 16)
    ("bc", 1),  # (16,)
    ("wf", 2),  # (H2, 256): column 16 * c + f is the logit of low nibble f given high nibble c
    ("bf", 1),  # (256,)
    ("sig", 1),  # (512,) gate table: frequency of "pixel is 0", 1..TOTAL-1
    ("exp", 1),  # (E,) value table: unnormalized frequency, >= 1
    ("shape", 1),  # (2,) image height, width
)
ARRAY_NAMES = tuple(n for n, _ in ARRAY_SPEC)
INT32_MAX = (1 << 31) - 1
F32_EXACT = float(1 << 24)  # integers up to 2**24 are exact in float32

# the bundled models' folder: the wheel's copy (aezip/trained) or the checkout's (trained/)
DEFAULT_MODEL_PATH = trained_dir() / "pixel.npz"


class PixelModel:
    """The integer pixel model: weights as int64 arrays plus float64 copies for the matmuls."""

    def __init__(self, arrays, name="pixel"):
        self.name = name
        self.arrays = {}
        for key, ndim in ARRAY_SPEC:
            if key not in arrays:
                raise ValueError(f"pixel model lacks array {key!r}")
            a = np.asarray(arrays[key])
            if a.ndim != ndim or not np.issubdtype(a.dtype, np.integer):
                raise ValueError(f"pixel model array {key!r}: need {ndim}-d integers, got {a.dtype} {a.shape}")
            if a.size and (a.min() < -INT32_MAX or a.max() > INT32_MAX):
                raise ValueError(f"pixel model array {key!r} leaves the int32 range")
            self.arrays[key] = a.astype(np.int64)
        self._check()
        A = self.arrays
        self.height, self.width = int(A["shape"][0]), int(A["shape"][1])
        self.window = A["window"]
        # Powers of two fold into the weights exactly, so that every floor(a / 2**s) of
        # formats/aez.md §5.7 becomes one floor of a product with pre-scaled weights: the
        # products are integers times 2**-s and every sum stays far below 2**53 x 2**-s,
        # so the values (and the integers after the floor) are the same in any order.
        s1 = 1.0 / (1 << WF)
        self.w1 = A["w1"].astype(np.float64) * s1
        self.p1 = A["p1"].astype(np.float64) * s1
        self.w2 = A["w2"].astype(np.float64) * s1
        self.b2 = A["b2"].astype(np.float64) * s1
        sg = 1.0 / (1 << (HF + WF - GATE_STEP_BITS))
        self.wg = A["wg"].astype(np.float64) * sg
        self.bg = float(A["bg"][0]) * sg + GATE_OFFSET
        se = 1.0 / (1 << (HF + WF - EXP_STEP_BITS))
        self.wc = A["wc"].astype(np.float64) * se
        self.bc = A["bc"].astype(np.float64) * se
        self.wf = A["wf"].astype(np.float64) * se
        self.bf = A["bf"].astype(np.float64) * se
        self.wf3 = np.ascontiguousarray(self.wf.reshape(-1, 16, 16).transpose(1, 0, 2))  # (high, h2, low)
        self.bf2 = self.bf.reshape(16, 16)
        # float32 copies for the two hidden layers.  float32 is exact too wherever every
        # product and partial sum is an integer times 2**-WF below 2**24 in magnitude:
        # layer 1 whenever its bound is (checked here, once); layer 2 per batch of rows,
        # by a bound computed from the rows' own h1 (see Evaluator.hidden).
        self.layer1_f32 = _layer1_bound(A) < F32_EXACT
        self.w1_32 = self.w1.astype(np.float32)
        self.p1_32 = self.p1.astype(np.float32)
        # feature-major (transposed) copies: the coder's products take images as columns
        self.w1t = np.ascontiguousarray(self.w1.T)
        self.w1t_32 = np.ascontiguousarray(self.w1_32.T)
        self.w2t_aug = np.ascontiguousarray(np.concatenate([self.w2, self.b2[None]]).T)  # (H2, H1 + 1)
        self.w2t_aug_32 = self.w2t_aug.astype(np.float32)
        # layer 2's bound weights: max_k |w2_jk| per input j, then max |b2| for the ones row
        self.w2_rowmax_aug = _float32_up(np.append(np.abs(A["w2"]).max(axis=1), np.abs(A["b2"]).max()))
        # heads for h2 with a ones row below (Evaluator.hidden): the bias is the last column;
        # still exact, every sum stays far below 2**53 times its power of two
        self.wg_aug = np.append(self.wg, self.bg)  # bg carries GATE_OFFSET
        self.wct_aug = np.ascontiguousarray(np.concatenate([self.wc, self.bc[None]]).T)  # (16, H2 + 1)
        wf3t = self.wf3.transpose(0, 2, 1)  # (high, low, H2)
        self.wf3t_aug = np.ascontiguousarray(np.concatenate([wf3t, self.bf2[:, :, None]], axis=2))
        self.exp_f64 = A["exp"].astype(np.float64)
        self.b2_absmax = float(np.abs(A["b2"]).max())
        # a float32 sum of n nonnegative terms errs by less than a factor 1 + 2n * 2**-24: a
        # bound computed in float32 below this limit is a true bound below 2**24
        self.f32_limit = F32_EXACT * (1 - 2 * (A["w2"].shape[0] + 1) * 2.0**-24)
        self.sig = A["sig"]
        self.exp = A["exp"]
        self.pad_top = int(-self.window[:, 0].min())
        self.pad_side = int(np.abs(self.window[:, 1]).max())
        self.padded_width = self.width + 2 * self.pad_side
        # flat index, into the padded image, of every window offset at every position
        rows = np.arange(self.height).repeat(self.width)
        cols = np.tile(np.arange(self.width), self.height)
        r = rows[:, None] + self.pad_top + self.window[None, :, 0]
        c = cols[:, None] + self.pad_side + self.window[None, :, 1]
        self.gather = (r * self.padded_width + c).astype(np.intp)  # (H*W, F)
        self.padded_shape = (self.height + self.pad_top, self.padded_width)

    def _check(self):
        A = self.arrays
        f, h1 = A["w1"].shape
        h2 = A["w2"].shape[1]
        want = {
            "window": (f, 2),
            "p1": (int(A["shape"].prod()) if A["shape"].size == 2 else -1, h1),
            "w2": (h1, h2),
            "b2": (h2,),
            "wg": (h2,),
            "bg": (1,),
            "wc": (h2, 16),
            "bc": (16,),
            "wf": (h2, 256),
            "bf": (256,),
            "sig": (GATE_LEN,),
            "shape": (2,),
        }
        for key, shape in want.items():
            if A[key].shape != shape:
                raise ValueError(f"pixel model array {key!r}: shape {A[key].shape}, expected {shape}")
        w = A["window"]
        causal = (w[:, 0] < 0) | ((w[:, 0] == 0) & (w[:, 1] < 0))
        if not causal.all():
            raise ValueError(f"pixel model window has non-causal offsets {w[~causal].tolist()}")
        if not ((A["sig"] >= 1) & (A["sig"] <= TOTAL - 1)).all():
            raise ValueError("pixel model gate table leaves 1..2**16-1")
        if A["exp"].size < 1 or A["exp"].min() < 1 or A["exp"].max() > (1 << 15):
            raise ValueError("pixel model value table leaves 1..2**15")
        # exactness bounds: every sum below 2**53 (here far below 2**40)
        b1 = _layer1_bound(A)
        b2 = HMAX * np.abs(A["w2"]).sum(0).max() + np.abs(A["b2"]).max()
        bo = HMAX * max(np.abs(A[w]).sum(0).max() for w in ("wc", "wf", "wg")) + max(
            np.abs(A[b]).max() for b in ("bc", "bf", "bg")
        )
        if max(b1, b2, bo) >= 1 << 40:
            raise ValueError("pixel model weights too large for exact float64 sums")

    # --- identity -------------------------------------------------------------------------
    def serialize(self):
        """Canonical bytes: magic, then per array in ARRAY_SPEC order: ndim, dims, int32 LE data."""
        parts = [SERIAL_MAGIC]
        for key in ARRAY_NAMES:
            a = self.arrays[key]
            parts.append(np.array([a.ndim, *a.shape], "<u4").tobytes())
            parts.append(a.astype("<i4").tobytes())
        return b"".join(parts)

    @property
    def digest(self):
        """First 8 bytes of SHA-256 over :meth:`serialize`."""
        return hashlib.sha256(self.serialize()).digest()[:8]

    @classmethod
    def load(cls, path):
        path = Path(path)
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in ARRAY_NAMES}
        return cls(arrays, name=path.stem)

    def save(self, path):
        np.savez_compressed(path, **{k: self.arrays[k].astype(np.int32) for k in ARRAY_NAMES})

    # --- evaluation -----------------------------------------------------------------------
    def hidden(self, feats, pos):
        """h2 (float64, integer valued) from causal pixels *feats* (n, F) at positions *pos*.

        *pos* is an int (all lanes at one position) or an (n,) array.
        """
        a1 = feats @ self.w1
        a1 += self.p1[pos]
        h1 = _clip_floor(a1, HMAX)
        a2 = h1 @ self.w2
        a2 += self.b2
        return _clip_floor(a2, HMAX)

    def gate_freq(self, h2):
        """Frequency (out of 2**16) of "the pixel is 0" for each row of h2: int64 (n,)."""
        zg = h2 @ self.wg
        zg += self.bg  # the bias carries GATE_OFFSET
        np.clip(zg, 0, GATE_LEN - 1, out=zg)  # clip then floor = floor then clip (integer bounds)
        return self.sig[zg.astype(np.intp)]  # truncation of a value >= 0 is its floor

    def _exp_weights(self, z):
        """Integer weights EXP[min(floor((max_j z_j - z_i) / 2**13), E - 1)] along the last axis
        (*z* already carries the 2**-13)."""
        k = z.max(axis=-1, keepdims=True) - z
        np.minimum(k, self.exp.size - 1, out=k)
        return self.exp[k.astype(np.intp)]  # k >= 0: truncation is the floor

    def high_weights(self, h2):
        """Unnormalized integer weights (n, 16) of the high nibble."""
        zc = h2 @ self.wc
        zc += self.bc
        return self._exp_weights(zc)

    def low_weights(self, h2, high):
        """Unnormalized integer weights (n, 16) of the low nibble, given each row's high nibble."""
        high = np.asarray(high, np.intp)
        present = np.bincount(high, minlength=16)
        if present.max() == high.size:  # one high nibble for every row: one product
            zf = h2 @ self.wf3[high[0]]
            zf += self.bf2[high[0]]
            return self._exp_weights(zf)
        order = np.argsort(high, kind="stable")
        hs = h2[order]
        zf = np.empty((high.size, 16))
        a = 0
        for c in np.flatnonzero(present).tolist():
            b = a + int(present[c])
            np.matmul(hs[a:b], self.wf3[c], out=zf[a:b])
            a = b
        zf += self.bf2[high[order]]
        out = np.empty((high.size, 16), self.exp.dtype)
        out[order] = self._exp_weights(zf)
        return out

    # --- the same, feature-major: h2t is (H2 + 1, k) with the ones row of Evaluator.hidden,
    # weights come back (16, k) float64 ----------------------------------------------------
    def gate_freq_t(self, h2t):
        """:meth:`gate_freq` of the columns of h2t."""
        zg = self.wg_aug @ h2t
        np.clip(zg, 0, GATE_LEN - 1, out=zg)
        return self.sig[zg.astype(np.intp)]

    def _exp_weights_t(self, z):
        """:meth:`_exp_weights` down the columns of *z* (overwritten), as float64."""
        np.subtract(z.max(axis=0), z, out=z)
        np.minimum(z, self.exp.size - 1, out=z)
        return self.exp_f64[z.astype(np.intp)]

    def high_weights_t(self, h2t):
        return self._exp_weights_t(self.wct_aug @ h2t)

    def low_weights_t(self, h2t, high):
        """(weights, order): the low-nibble weights (16, k) of the columns h2t[:, order], given
        each column's high nibble; *order* sorts the columns by high nibble (None: one high
        nibble for all, the columns as given).  The caller scatters the columns back once,
        after its own column-wise work."""
        high = np.asarray(high, np.intp)
        present = np.bincount(high, minlength=16)
        if present.max() == high.size:  # one high nibble for every column: one product
            return self._exp_weights_t(self.wf3t_aug[high[0]] @ h2t), None
        order = np.argsort(high.astype(np.uint8), kind="stable")  # a radix sort for bytes
        hs = np.take(h2t, order, axis=1)
        zf = np.empty((16, high.size))
        a = 0
        for c in np.flatnonzero(present).tolist():  # one product per high nibble present
            b = a + int(present[c])
            np.matmul(self.wf3t_aug[c], hs[:, a:b], out=zf[:, a:b])
            a = b
        return self._exp_weights_t(zf), order

    def all_low_weights(self, h2):
        """Unnormalized integer weights (n, 16, 16) of the low nibble for every high nibble."""
        zf = h2 @ self.wf
        zf += self.bf
        return self._exp_weights(zf.reshape(-1, 16, 16))


class Evaluator:
    """:meth:`PixelModel.hidden` for up to *n* images at a time, feature-major (columns are
    images), with its scratch buffers allocated once (a round's buffers serve every
    position) and float32 products where they are exact.  The integers it gives are those
    of ``PixelModel.hidden``, transposed.

    Each layer's input carries a row of ones below it, so that one product adds the bias
    too (layer 1's per-position p1 is the last column of its weights, rewritten at each
    call): the sums are the same integers, in another order.
    """

    def __init__(self, model, n):
        self.model = model
        f, h1 = model.w1.shape
        h2 = model.w2.shape[1]
        dt1 = np.float32 if model.layer1_f32 else np.float64
        self.x = np.empty((f + 1) * n, dt1)
        self.w1 = np.empty((h1, f + 1), dt1)  # [w1^T | p1[pos]]
        self.w1[:, :f] = model.w1t_32 if model.layer1_f32 else model.w1t
        self.p1 = model.p1_32 if model.layer1_f32 else model.p1
        self.a1 = np.empty((h1 + 1) * n, dt1)
        self.bound = np.empty(n, np.float32)
        self.a2_32 = np.empty(h2 * n, np.float32)
        self.h1_64 = np.empty((h1 + 1) * n, np.float64)
        self.h2 = np.empty((h2 + 1) * n, np.float64)

    def hidden(self, window, cols, pos):
        """h2 transposed with a row of ones below, (H2 + 1, k) float64 integer valued, of the
        images *cols* (k,) whose causal pixels are the columns of *window* (F, n), at position
        *pos* (an int).  The ones row lets the heads' products add their biases (the
        ``*_t`` methods of PixelModel take this form)."""
        m = self.model
        k = cols.size
        f, h1n = m.w1.shape
        h2n = m.w2.shape[1]
        x = self.x[: (f + 1) * k].reshape(f + 1, k)
        x[:f] = np.take(window, cols, axis=1)  # taking columns of uint8, then one cast
        x[f] = 1
        self.w1[:, f] = self.p1[pos]
        a1 = self.a1[: (h1n + 1) * k].reshape(h1n + 1, k)
        np.matmul(self.w1, x, out=a1[:h1n])
        a1[h1n] = 1  # stays 1 through the clip and floor
        _clip_floor(a1, HMAX)
        h2aug = self.h2[: (h2n + 1) * k].reshape(h2n + 1, k)
        h2aug[h2n] = 1.0
        h2 = h2aug[:h2n]
        small = False
        if m.layer1_f32:  # layer 2's bound per image: sum_j h1_j max_k |w2_jk| + max |b2|
            bound = self.bound[:k]
            np.matmul(m.w2_rowmax_aug, a1, out=bound)
            small = float(bound.max(initial=0.0)) < m.f32_limit
        if small:
            a2 = self.a2_32[: h2n * k].reshape(h2n, k)
            np.matmul(m.w2t_aug_32, a1, out=a2)
            _clip_floor(a2, HMAX)
            h2[...] = a2
        else:
            h1 = self.h1_64[: (h1n + 1) * k].reshape(h1n + 1, k)
            h1[...] = a1
            np.matmul(m.w2t_aug, h1, out=h2)
            _clip_floor(h2, HMAX)
        return h2aug


def normalize_cols(w, total=TOTAL):
    """:func:`normalize` down the columns of float64 weights (n, k) of at most 2**15 each
    (what the value table holds), in float64: g_i = 1 + floor(w_i (total - n) / S) is exact
    there, since w_i (total - n) < 2**31 and a quotient below 2**16 that is not a whole
    number lies at least 1/S >= 2**-23 from one, far beyond float64's rounding.  Float64
    frequencies (n, k), integer valued."""
    n = w.shape[0]
    s = w.sum(axis=0)
    g = np.multiply(w, float(total - n), order="C")  # C order: g.reshape(-1) below is a view
    g /= s
    np.floor(g, out=g)
    g += 1
    k = w.shape[1]
    flat = _first_max_rows(w) * k  # flat index of each column's first largest weight
    flat += np.arange(k)
    g.reshape(-1)[flat] += total - g.sum(axis=0)
    return g


def _first_max_rows(w):
    """w.argmax(axis=0) of float64 *w* (n, k), n <= 52: the bits 2**(n-1-i) of the rows i
    equal to their column's maximum summed into one exact float64 per column, whose exponent
    names the first such row (argmax down columns takes one slow inner loop per column)."""
    n = w.shape[0]
    if n > 52:
        return w.argmax(axis=0)
    code = 2.0 ** np.arange(n - 1, -1, -1) @ (w == w.max(axis=0))
    return (n - np.frexp(code)[1]).astype(np.intp)  # code in [2**(n-1-i), 2**(n-i)): frexp gives n - i



def _float32_up(a):
    """Nonnegative integers *a* as float32, each rounded up (a bound stays a bound)."""
    a = np.asarray(a, np.float64)
    f = a.astype(np.float32)
    return np.where(f.astype(np.float64) < a, np.nextafter(f, np.float32(np.inf)), f).astype(np.float32)


def _layer1_bound(A):
    """Largest |partial sum| of layer 1 in integer units: pixels 0..255 times |w1|, plus |p1|."""
    return 255 * np.abs(A["w1"]).sum(0).max() + np.abs(A["p1"]).max()


def _clip_floor(a, top):
    """floor(clip(a, 0, top)) in place: the same integers as clip(floor(a), 0, top)."""
    np.clip(a, 0, top, out=a)
    np.floor(a, out=a)
    return a


def normalize(weights, total=TOTAL):
    """Exact integer rule: frequencies >= 1 summing to *total*, per row.

    g_i = 1 + floor(w_i * (total - n) / S), S = sum_i w_i; the remainder
    total - sum_i g_i goes to the first largest w_i.
    """
    w = np.asarray(weights, np.int64)
    shape = w.shape
    w = w.reshape(-1, shape[-1])
    n = shape[-1]
    s = w.sum(axis=1, keepdims=True)
    g = w * (total - n)
    g //= s
    g += 1
    rows = np.arange(w.shape[0])
    g[rows, w.argmax(axis=1)] += total - g.sum(axis=1)
    return g.reshape(shape)


_default = None


def load_default():
    """The bundled pixel model (trained/pixel.npz), loaded once: what the encoder uses."""
    global _default
    if _default is None:
        _default = PixelModel.load(DEFAULT_MODEL_PATH)
    return _default


_by_digest = {}


def model_for_digest(digest):
    """The installed pixel model with this 8-byte digest (trained/pixel*.npz: the default and
    the ones older archives name), or None.  Each file is loaded at most once."""
    digest = bytes(digest)
    if digest == load_default().digest:
        return load_default()
    if digest not in _by_digest:
        for path in sorted(DEFAULT_MODEL_PATH.parent.glob("pixel*.npz")):
            if path != DEFAULT_MODEL_PATH and path not in _by_digest.values():
                m = PixelModel.load(path)
                _by_digest.setdefault(m.digest, m)
                if m.digest == digest:
                    break
    return _by_digest.get(digest)
