"""Image quality metrics: PSNR (the codec's quality contract, the apps, the benchmark) and SSIM (the benchmark)."""

import math

import numpy as np

__all__ = ["psnr", "psnr_per_image", "ssim", "ssim_per_image"]

SSIM_WINDOW = 7
SSIM_K1, SSIM_K2 = 0.01, 0.03


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


def _box_sum(a, w):
    """Sum over every w x w window of each image in an integer (N, H, W) stack (valid windows only)."""
    c = np.zeros((a.shape[0], a.shape[1] + 1, a.shape[2] + 1), a.dtype)
    np.cumsum(a, axis=1, out=c[:, 1:, 1:])
    np.cumsum(c[:, 1:, 1:], axis=2, out=c[:, 1:, 1:])
    return c[:, w:, w:] - c[:, :-w, w:] - c[:, w:, :-w] + c[:, :-w, :-w]


def ssim_per_image(a, b, window=SSIM_WINDOW):
    """SSIM of each pair of uint8 images (Wang et al. 2004; uniform window, sample covariance,
    K1 = 0.01, K2 = 0.03, pixels in [0, 1]), the mean over valid windows.  Window sums are
    exact integers (int32 holds 28 * 28 * 255**2), so only the final formula is floating point."""
    a = np.asarray(a)
    b = np.asarray(b)
    out = np.empty(len(a))
    c1, c2 = SSIM_K1 ** 2, SSIM_K2 ** 2
    n = window * window
    scale = 1.0 / (255 * 255 * n)
    for i in range(0, len(a), 2048):
        x = a[i:i + 2048].astype(np.int32)
        y = b[i:i + 2048].astype(np.int32)
        sx, sy = _box_sum(x, window).astype(np.float64), _box_sum(y, window).astype(np.float64)
        sxx, syy, sxy = (_box_sum(p, window) for p in (x * x, y * y, x * y))
        mx, my = sx * (1 / (255 * n)), sy * (1 / (255 * n))
        # sample (co)variances: (sum(pq) - sum(p) sum(q) / n) / (n - 1), in [0, 1] pixel units
        vx = (sxx - sx * sx / n) * (scale * n / (n - 1))
        vy = (syy - sy * sy / n) * (scale * n / (n - 1))
        vxy = (sxy - sx * sy / n) * (scale * n / (n - 1))
        s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
        out[i:i + 2048] = s.reshape(len(s), -1).mean(1)
    return out


def ssim(a, b, window=SSIM_WINDOW):
    """Mean SSIM over a stack of uint8 image pairs."""
    return float(ssim_per_image(a, b, window).mean())
