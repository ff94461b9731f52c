"""The pixel model as the coder sees it: per-K code tables and the image layout."""

import numpy as np

from . import bins
from .model import load_default, normalize, normalize_cols

__all__ = ["model_name", "model_digest"]


def model_name(model=None):
    return (model or load_default()).name


def model_digest(model=None):
    """8-byte content digest of the pixel model (SHA-256 over its canonical serialization)."""
    return (model or load_default()).digest


# --- the model's code tables -----------------------------------------------------------------
class _Tables:
    """What the coder needs from the model for one max_error K.

    Pixels whose whole causal window is 0 ("inactive") have a model output that depends
    on their position only; those outputs are computed once per position here (with the
    same integer arithmetic, so the numbers are identical to evaluating the model).
    """

    def __init__(self, model, k):
        self.model = model
        self.k = k
        self.centres = bins.centres(k)
        self.binmat = None if k == 0 else bins.value_bin_matrix(k)
        npx = model.height * model.width
        h2 = model.hidden(np.zeros((npx, model.window.shape[0])), np.arange(npx))
        self.gate0 = model.gate_freq(h2)
        self.h2zero = h2
        if k == 0:
            self.high0 = normalize(model.high_weights(h2))
            self.low0 = normalize(model.all_low_weights(h2))
            self.high0_f = self.high0.astype(np.float64)  # (H*W, 16)
            self.low0_t = np.ascontiguousarray(self.low0.transpose(0, 2, 1)).astype(np.float64)  # (H*W, low, high)
        else:
            self.bin0 = self.bin_freqs(h2)
            self.bin0_f = self.bin0.astype(np.float64)

    # --- feature-major: frequencies (symbols, pixels) float64, one column per nonzero pixel ---
    def high_cols(self, p, n, hit, hv):
        """High-nibble frequencies (16, n) of n nonzero pixels at position p (see _model_cols)."""
        g = np.empty((16, n))
        g[...] = self.high0_f[p][:, None]
        if hv is not None:
            g[:, hit] = normalize_cols(self.model.high_weights_t(hv))
        return g

    def low_cols(self, p, high, hit, hv):
        """Low-nibble frequencies (16, n) given each pixel's high nibble."""
        g = np.take(self.low0_t[p], high, axis=1)
        if hv is not None:
            w, order = self.model.low_weights_t(hv, high[hit])
            cols = np.flatnonzero(hit)
            g[:, cols if order is None else cols[order]] = normalize_cols(w)
        return g

    def bin_cols(self, p, n, hit, hv):
        """Near-lossless: bin frequencies (B - 1, n) of n nonzero pixels at position p."""
        g = np.empty((self.bin0_f.shape[1], n))
        g[...] = self.bin0_f[p][:, None]
        if hv is not None:
            g[:, hit] = self.bin_freqs(np.ascontiguousarray(hv[:-1].T)).T  # without the ones row
        return g

    def bin_freqs(self, h2):
        """Near-lossless: frequencies (n, B - 1) of the bins 1..B-1 (exact integer rule)."""
        high = normalize(self.model.high_weights(h2))
        low = normalize(self.model.all_low_weights(h2))
        w = (high[:, :, None] * low).reshape(-1, 256)[:, 1:]
        return normalize((w.astype(np.float64) @ self.binmat).astype(np.int64))


_TRIANGLES = {}


def cum_cols(g):
    """Cumulative sums down the columns of integer-valued float64 *g* (S, k), as a product
    with a lower-triangular matrix of ones: exact (integers far below 2**53), and numpy runs
    it 3x faster than cumsum along the first axis."""
    n = g.shape[0]
    tri = _TRIANGLES.get(n)
    if tri is None:
        tri = _TRIANGLES.setdefault(n, np.tril(np.ones((n, n))))
    return tri @ g


def pick_spans(g, end, s, cols):
    """(start, freq) int64 of symbol s[j] in column cols[j] of the integer-valued float64
    frequencies *g*, whose cumulative sums are *end* = cum_cols(g): symbol s of column i spans
    end[s, i] - g[s, i] .. end[s, i] - 1.  Both coders look symbols up in *end* and convert
    only the one (start, freq) per column they pick, not the whole table."""
    e = end[s, cols]
    f = g[s, cols]
    e -= f
    return e.astype(np.int64), f.astype(np.int64)


def _model_cols(rowof, act, h2t, nz):
    """(hit, h2t's columns) for the nonzero pixels *nz* of one position, h2t feature-major
    (H2 + 1, len(act)): *hit* marks those whose window is active (their frequencies come from
    the model, the others' from the position's table); (None, None) when none is.  *rowof* is
    an all -1 scratch array."""
    if not act.size:
        return None, None
    rowof[act] = np.arange(act.size)
    r = rowof[nz]
    rowof[act] = -1
    hit = r >= 0
    return hit, (np.take(h2t, r[hit], axis=1) if hit.any() else None)


def _interior(model):
    """Flat index in the padded image of every pixel position, (H*W,)."""
    r = np.arange(model.height).repeat(model.width) + model.pad_top
    c = np.tile(np.arange(model.width), model.height) + model.pad_side
    return r * model.padded_width + c
