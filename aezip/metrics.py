"""Image quality metrics shared by the codec, the apps and the benchmark: PSNR."""

import math

import numpy as np

__all__ = ["psnr", "psnr_per_image"]


def psnr(a, b):
    """PSNR in dB of two uint8 image stacks, over all pixels (peak 1.0): 10 log10(1 / MSE)."""
    mse = np.mean((np.asarray(a, np.float64) / 255 - np.asarray(b, np.float64) / 255) ** 2)
    return math.inf if mse == 0 else 10 * math.log10(1 / mse)


def psnr_per_image(a, b, chunk=4096):
    """Per-image PSNR in dB (inf where identical), computed in chunks to bound memory."""
    a = a.reshape(len(a), -1)
    b = b.reshape(len(b), -1)
    mse = np.empty(len(a))
    for i in range(0, len(a), chunk):
        d = a[i:i + chunk].astype(np.float32) - b[i:i + chunk].astype(np.float32)
        mse[i:i + chunk] = np.einsum("ij,ij->i", d, d, dtype=np.float64) / (a.shape[1] * 255.0 * 255.0)
    with np.errstate(divide="ignore"):
        return 10 * np.log10(1 / mse)
