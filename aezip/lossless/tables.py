"""The pixel model as the coder sees it: per-K code tables and the image layout."""

import numpy as np

from . import bins
from .model import load_default, normalize

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
        else:
            self.bin0 = self.bin_freqs(h2)

    def bin_freqs(self, h2):
        """Near-lossless: frequencies (n, B - 1) of the bins 1..B-1 (exact integer rule)."""
        high = normalize(self.model.high_weights(h2))
        low = normalize(self.model.all_low_weights(h2))
        w = (high[:, :, None] * low).reshape(-1, 256)[:, 1:]
        return normalize((w.astype(np.float64) @ self.binmat).astype(np.int64))


def _interior(model):
    """Flat index in the padded image of every pixel position, (H*W,)."""
    r = np.arange(model.height).repeat(model.width) + model.pad_top
    c = np.tile(np.arange(model.width), model.height) + model.pad_side
    return r * model.padded_width + c
