"""Near-lossless binning (max_error K): every pixel is replaced by a bin centre within K.

Bins (K >= 0, K <= 32):
    bin 0      = [0, K]          centre 0
    bin B - 1  = [255 - K, 255]  centre 255
    bin s      = [s(2K+1) - K, s(2K+1) + K] for 1 <= s <= B - 2 (the last one cut at 254 - K),
                 centre min(s(2K+1), 254 - K)
    B = 2 + ceil((254 - 2K) / (2K + 1))
so 0 and 255 stay exact, K = 0 is the identity (B = 256), and every centre lies in its
own bin (binning the decoded pixels again changes nothing).
"""

import numpy as np

__all__ = ["MAX_ERROR_LIMIT", "bin_count", "to_bins", "centres", "value_bin_matrix", "check_max_error"]

MAX_ERROR_LIMIT = 32


def check_max_error(k):
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= int(k) <= MAX_ERROR_LIMIT:
        raise ValueError(f"max_error must be a whole number from 0 to {MAX_ERROR_LIMIT}, got {k!r}")
    return int(k)


def bin_count(k):
    w = 2 * k + 1
    return 2 + -(-(254 - 2 * k) // w)


def to_bins(pixels, k):
    """Bin index of every pixel (same shape, int64)."""
    v = np.asarray(pixels).astype(np.int64)
    if k == 0:
        return v
    b = bin_count(k)
    s = 1 + (v - k - 1) // (2 * k + 1)
    s = np.where(v <= k, 0, s)
    return np.where(v >= 255 - k, b - 1, s)


def centres(k):
    """uint8 (B,): the pixel value each bin decodes to."""
    b = bin_count(k)
    c = np.minimum(np.arange(b, dtype=np.int64) * (2 * k + 1), 254 - k)
    c[-1] = 255
    return c.astype(np.uint8)


def value_bin_matrix(k):
    """(255, B - 1) 0/1 float64: value v (row v - 1) belongs to bin s >= 1 (column s - 1)."""
    s = to_bins(np.arange(1, 256), k)
    m = np.zeros((255, bin_count(k) - 1))
    keep = s >= 1
    m[np.nonzero(keep)[0], s[keep] - 1] = 1.0
    return m
