"""The numpy forward pass: runs exported encoders and decoders without torch.

A network is a list of ops (dicts) exported by :func:`aezip.training.model.export_layers`:
``linear``, ``conv2d``, ``conv_transpose2d``, ``relu``, ``sigmoid``, ``flatten``
and ``reshape``.  Everything runs in float32 on (N, ...) batches.
"""

import threading
from contextlib import contextmanager

import numpy as np

__all__ = ["Network", "one_blas_thread"]


def _im2col(x, k, stride, pad):
    """(N, C, H, W) -> (N, Ho, Wo, C*k*k) patches, zero padded."""
    n, c, h, w = x.shape
    if pad:
        x = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ho = (h + 2 * pad - k) // stride + 1
    wo = (w + 2 * pad - k) // stride + 1
    s = x.strides
    view = np.lib.stride_tricks.as_strided(
        x, (n, ho, wo, c, k, k), (s[0], s[2] * stride, s[3] * stride, s[1], s[2], s[3]), writeable=False
    )
    return view.reshape(n, ho, wo, c * k * k), ho, wo


class _Linear:
    def __init__(self, w, b):
        self.wt = np.ascontiguousarray(w.T, dtype=np.float32)
        self.b = b.astype(np.float32)

    def __call__(self, x):
        y = x @ self.wt
        y += self.b
        return y


class _Conv2d:
    def __init__(self, w, b, stride, padding):
        self.cout, cin, self.k, _ = w.shape
        self.wt = np.ascontiguousarray(w.reshape(self.cout, -1).T, dtype=np.float32)
        self.b = b.astype(np.float32)
        self.stride, self.pad = stride, padding

    def __call__(self, x):
        cols, ho, wo = _im2col(x, self.k, self.stride, self.pad)
        y = cols @ self.wt
        y += self.b
        return y.transpose(0, 3, 1, 2)


class _ConvTranspose2d:
    """Transposed convolution as a dilate-and-convolve with the flipped kernel."""

    def __init__(self, w, b, stride, padding, output_padding):
        cin, self.cout, self.k, _ = w.shape
        flipped = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)  # (Cout, Cin, k, k)
        self.wt = np.ascontiguousarray(flipped.reshape(self.cout, -1).T, dtype=np.float32)
        self.b = b.astype(np.float32)
        self.stride, self.pad, self.outpad = stride, padding, output_padding

    def __call__(self, x):
        n, c, h, w = x.shape
        s, k = self.stride, self.k
        hd, wd = (h - 1) * s + 1, (w - 1) * s + 1
        lo = k - 1 - self.pad
        hi = lo + self.outpad
        z = np.zeros((n, c, hd + lo + hi, wd + lo + hi), np.float32)
        z[:, :, lo:lo + hd:s, lo:lo + wd:s] = x
        cols, ho, wo = _im2col(z, k, 1, 0)
        y = cols @ self.wt
        y += self.b
        return y.transpose(0, 3, 1, 2)


def _relu(x):
    return np.maximum(x, 0, out=x)


def _sigmoid(x):
    np.negative(x, out=x)
    with np.errstate(over="ignore"):  # exp overflows to inf for x << 0: 1 / (1 + inf) = 0, as it should
        np.exp(x, out=x)
    x += 1
    return np.reciprocal(x, out=x)


class Network:
    """A sequence of numpy ops built from an exported op list and its arrays."""

    def __init__(self, ops, arrays):
        self.steps = []
        for op in ops:
            kind = op["op"]
            if kind == "linear":
                p = op["param"]
                self.steps.append(_Linear(arrays[p + ".weight"], arrays[p + ".bias"]))
            elif kind == "conv2d":
                p = op["param"]
                self.steps.append(_Conv2d(arrays[p + ".weight"], arrays[p + ".bias"], op["stride"], op["padding"]))
            elif kind == "conv_transpose2d":
                p = op["param"]
                self.steps.append(_ConvTranspose2d(arrays[p + ".weight"], arrays[p + ".bias"],
                                                   op["stride"], op["padding"], op.get("output_padding", 0)))
            elif kind == "upsample_nearest":
                k = op["scale"]
                self.steps.append(lambda x, k=k: x.repeat(k, axis=-2).repeat(k, axis=-1))
            elif kind == "relu":
                self.steps.append(_relu)
            elif kind == "sigmoid":
                self.steps.append(_sigmoid)
            elif kind == "flatten":
                self.steps.append(lambda x: x.reshape(x.shape[0], -1))
            elif kind == "reshape":
                shape = tuple(op["shape"])
                self.steps.append(lambda x, shape=shape: x.reshape((x.shape[0],) + shape))
            else:
                raise ValueError(f"unknown op {kind!r} in model description")

    def __call__(self, x):
        x = np.asarray(x, np.float32)
        # inf/NaN can only come from extreme codes in a crafted archive; Model.decode maps them
        with one_blas_thread(), np.errstate(over="ignore", invalid="ignore"):
            for step in self.steps:
                x = step(x)
        return x


_CONTROLLER = []
_LIMIT_LOCK = threading.Lock()
_LIMIT = {"depth": 0, "limiter": None}


@contextmanager
def one_blas_thread():
    """A context that runs BLAS on one thread (re-entrant, and shared by threads that nest in it).

    The layers here are small (a 4096x36 by 36x18 product, say): with two BLAS threads each
    product pays a thread hand-off that, on a busy 2-core machine, costs more than the
    arithmetic (measured: 188 ms vs 32 ms for mlp9's ten layers on 4,096 images).  Work is
    spread over the cores by running chunks in threads instead (see aezip.parallel), each
    chunk's products on one BLAS thread; the limit is process-wide, so it is set by the
    outermost context and lifted when the last one leaves.
    """
    with _LIMIT_LOCK:
        if _LIMIT["depth"] == 0:
            if not _CONTROLLER:
                from threadpoolctl import ThreadpoolController
                _CONTROLLER.append(ThreadpoolController())
            _LIMIT["limiter"] = _CONTROLLER[0].limit(limits=1, user_api="blas")
        _LIMIT["depth"] += 1
    try:
        yield
    finally:
        with _LIMIT_LOCK:
            _LIMIT["depth"] -= 1
            if _LIMIT["depth"] == 0:
                _LIMIT["limiter"].restore_original_limits()
                _LIMIT["limiter"] = None
