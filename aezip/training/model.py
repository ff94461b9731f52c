"""The autoencoder architectures, in torch (training only).

Each architecture is an ``AutoEncoder`` whose ``encoder`` and ``decoder`` are
``nn.Sequential`` stacks built only from the layers that the numpy runtime
(:mod:`aezip.infer`) knows, so :func:`export_layers` can describe any of them
as a plain list of ops plus named arrays.  The encoder takes images shaped
(N, 1, 28, 28) with pixels in [0, 1]; the decoder returns the same shape.
"""

import torch
from torch import nn

__all__ = ["AutoEncoder", "ARCHS", "DenseConv2d", "FactorizedPrior", "build", "export_layers", "sort_code_dims"]


def mlp9():
    """The lecture's stacked MLP: 784-128-64-36-18-9, mirrored, Sigmoid out."""
    sizes = [28 * 28, 128, 64, 36, 18, 9]
    enc = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(sizes, sizes[1:])):
        enc.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            enc.append(nn.ReLU())
    back = sizes[::-1]
    dec = []
    for i, (a, b) in enumerate(zip(back, back[1:])):
        dec.append(nn.Linear(a, b))
        dec.append(nn.ReLU() if i < len(back) - 2 else nn.Sigmoid())
    dec.append(nn.Unflatten(1, (1, 28, 28)))
    return nn.Sequential(*enc), nn.Sequential(*dec), 9


class DenseConv2d(nn.Conv2d):
    """A convolution on a fixed (C, H, W) input, exported as its exact dense matrix.

    The numpy runtime's im2col convolution costs ~10x more per image than one
    matrix product at this size (a 3x3 conv on 7x7 maps measured ~400 ms per
    4,096 images on the 2 shared cores), so :func:`export_layers` writes this
    layer as flatten -> linear -> reshape, the same function.  The conv weights
    are kept too, so the file still rebuilds the torch layer (:func:`load_torch`).
    """

    def __init__(self, input_shape, cout, k, padding):
        super().__init__(input_shape[0], cout, k, stride=1, padding=padding)
        self.input_shape = tuple(input_shape)

    def dense(self):
        """(weight (out, in), bias (out,), output shape) of the equivalent linear map."""
        c, h, w = self.input_shape
        with torch.no_grad():
            basis = torch.eye(c * h * w, dtype=self.weight.dtype).view(-1, c, h, w)
            out = nn.functional.conv2d(basis, self.weight, None, self.stride, self.padding)
            shape = tuple(out.shape[1:])
            weight = out.flatten(1).T.contiguous()
            bias = self.bias.repeat_interleave(shape[1] * shape[2])
        return weight, bias, shape


def conv(latent_dim, c1=16, c2=16, hidden=256, dec_channels=8):
    """The convolutional autoencoder (the lecture's "Autoencoder using CNN"), sized for numpy.

    Encoder: 28x28 -> conv 3x3 s2 (c1) -> 14x14 -> conv 3x3 s2 (c2) -> 7x7 ->
    linear 256 -> linear code.  Decoder: linear 256 -> linear to a 7x7 map of
    *dec_channels* -> conv 3x3 at 7x7 -> a learned linear up-sampling from the
    7x7 feature map to the 28x28 pixels -> Sigmoid.

    Sized for the numpy runtime (decode >= 10,000 images/s on 2 cores): the
    runtime's im2col (transposed) convolutions at 14x14 and 28x28 measured
    800-1,600 images/s for the mirror-image decoder, so the decoder's convolution
    stays at 7x7 and is exported as its dense matrix (:class:`DenseConv2d`), and
    up-sampling to 28x28 is one learned matrix product.  ~3 MB of weights.
    """
    enc = nn.Sequential(
        nn.Conv2d(1, c1, 3, stride=2, padding=1), nn.ReLU(),   # 14x14
        nn.Conv2d(c1, c2, 3, stride=2, padding=1), nn.ReLU(),  # 7x7
        nn.Flatten(),
        nn.Linear(c2 * 7 * 7, hidden), nn.ReLU(),
        nn.Linear(hidden, latent_dim),
    )
    c = dec_channels
    dec = nn.Sequential(
        nn.Linear(latent_dim, hidden), nn.ReLU(),
        nn.Linear(hidden, c * 7 * 7), nn.ReLU(),
        nn.Unflatten(1, (c, 7, 7)),
        DenseConv2d((c, 7, 7), c, 3, padding=1), nn.ReLU(),   # 7x7
        nn.Flatten(),
        nn.Linear(c * 7 * 7, 28 * 28), nn.Sigmoid(),          # learned up-sampling to 28x28
        nn.Unflatten(1, (1, 28, 28)),
    )
    return enc, dec, latent_dim


class FactorizedPrior(nn.Module):
    """A learned density per code dimension, for rate-aware training (not exported).

    Each dimension's code (in units of the quantization step) gets a mixture of
    *k* logistics; the probability of the quantization bin [y - 1/2, y + 1/2]
    gives the bits that an ideal order-0 coder would spend on it (zstd over the
    dimension-major codes gets close to that).
    """

    def __init__(self, dims, k=3):
        super().__init__()
        self.logits = nn.Parameter(torch.zeros(dims, k))
        self.loc = nn.Parameter(torch.linspace(-1, 1, k).repeat(dims, 1))
        self.log_scale = nn.Parameter(torch.zeros(dims, k))

    def bits(self, y):
        """Bits per element of y (N, dims), y in step units (noisy or rounded)."""
        w = torch.softmax(self.logits, -1)
        s = torch.exp(self.log_scale)
        u = y.unsqueeze(-1)
        hi = torch.sigmoid((u + 0.5 - self.loc) / s)
        lo = torch.sigmoid((u - 0.5 - self.loc) / s)
        p = ((hi - lo) * w).sum(-1)
        return -torch.log2(p.clamp_min(1e-9))


ARCHS = {
    "mlp9": mlp9,
    "cnn8": lambda: conv(8),
    "cnn16": lambda: conv(16),
    "cnn32": lambda: conv(32),
    "cnn64": lambda: conv(64),
}


class AutoEncoder(nn.Module):
    def __init__(self, arch):
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"unknown architecture {arch!r} (known: {', '.join(ARCHS)})")
        self.arch = arch
        self.encoder, self.decoder, self.latent_dim = ARCHS[arch]()

    def forward(self, x):
        return self.decoder(self.encoder(x))


def sort_code_dims(model, order):
    """Reorder the code dimensions of *model* in place (the function is unchanged).

    Permutes the outputs of the encoder's last linear layer and the inputs of the
    decoder's first one.  The codec stores codes dimension-major in one zstd frame,
    whose blocks share a Huffman table; neighbouring dimensions with alike
    histograms (sorted by spread) code ~8% smaller.
    """
    order = torch.as_tensor(order, dtype=torch.long)
    last = [m for m in model.encoder if isinstance(m, nn.Linear)][-1]
    first = [m for m in model.decoder if isinstance(m, nn.Linear)][0]
    with torch.no_grad():
        last.weight.copy_(last.weight[order])
        last.bias.copy_(last.bias[order])
        first.weight.copy_(first.weight[:, order])


def build(arch):
    return AutoEncoder(arch)


def export_layers(seq, prefix):
    """Describe an nn.Sequential as (ops, arrays) for the numpy runtime."""
    ops, arrays = [], {}
    for i, m in enumerate(seq):
        key = f"{prefix}.{i}"
        if isinstance(m, nn.Linear):
            ops.append({"op": "linear", "param": key})
        elif isinstance(m, DenseConv2d):
            weight, bias, shape = m.dense()
            ops += [{"op": "flatten"}, {"op": "linear", "param": f"{key}.dense"},
                    {"op": "reshape", "shape": list(shape)}]
            arrays[f"{key}.dense.weight"] = weight.cpu().numpy().astype("float32")
            arrays[f"{key}.dense.bias"] = bias.detach().cpu().numpy().astype("float32")
        elif isinstance(m, nn.Conv2d):
            ops.append({"op": "conv2d", "param": key, "stride": m.stride[0], "padding": m.padding[0]})
        elif isinstance(m, nn.ConvTranspose2d):
            ops.append({"op": "conv_transpose2d", "param": key, "stride": m.stride[0],
                        "padding": m.padding[0], "output_padding": m.output_padding[0]})
        elif isinstance(m, nn.ReLU):
            ops.append({"op": "relu"})
            continue
        elif isinstance(m, nn.Sigmoid):
            ops.append({"op": "sigmoid"})
            continue
        elif isinstance(m, nn.Flatten):
            ops.append({"op": "flatten"})
            continue
        elif isinstance(m, nn.Unflatten):
            ops.append({"op": "reshape", "shape": list(m.unflattened_size)})
            continue
        elif isinstance(m, nn.Upsample) and m.mode == "nearest":  # the upscale task's first layer
            ops.append({"op": "upsample_nearest", "scale": int(m.scale_factor)})
            continue
        else:
            raise TypeError(f"layer {key} ({type(m).__name__}) has no numpy equivalent")
        arrays[f"{key}.weight"] = m.weight.detach().cpu().numpy().astype("float32")
        arrays[f"{key}.bias"] = m.bias.detach().cpu().numpy().astype("float32")
    return ops, arrays


def load_torch(meta, arrays):
    """Rebuild a torch AutoEncoder from an exported weights file (for tests and fine-tuning)."""
    model = build(meta["arch"])
    if meta.get("input_shape") == [14, 14]:
        model.encoder.insert(0, nn.Upsample(scale_factor=2, mode="nearest"))
    state = {k: torch.from_numpy(v.copy()) for k, v in arrays.items() if ".dense." not in k}
    model.load_state_dict(state, strict=True)
    return model.eval()


def wide_mlp(enc_sizes, dec_sizes):
    """An MLP autoencoder with a wide code, for denoising and up-sampling.

    *enc_sizes* runs from the 784 input pixels to the code, *dec_sizes* from
    the code to the 784 output pixels; ReLU between layers, a linear code and
    a Sigmoid output, as in the lecture's MLP.
    """
    enc = [nn.Flatten()]
    for i, (a, b) in enumerate(zip(enc_sizes, enc_sizes[1:])):
        enc.append(nn.Linear(a, b))
        if i < len(enc_sizes) - 2:
            enc.append(nn.ReLU())
    dec = []
    for i, (a, b) in enumerate(zip(dec_sizes, dec_sizes[1:])):
        dec.append(nn.Linear(a, b))
        dec.append(nn.ReLU() if i < len(dec_sizes) - 2 else nn.Sigmoid())
    dec.append(nn.Unflatten(1, (1, 28, 28)))
    return nn.Sequential(*enc), nn.Sequential(*dec), enc_sizes[-1]


# Denoising (dn*) and up-sampling (up*) models: see aezip/apps.py.
# 784-512-128-512-784: ~0.94M parameters, >20,000 images/s in numpy on 2 cores.
# The same layout is also the wide rate-aware codec model for the high end of the quality
# ladder (mlpw128: rdw*), trained for the quantizer (see zoo.LADDER).  Three names, one
# network: the name a card records says what the model was trained for.
def wide128():
    return wide_mlp([784, 512, 128], [128, 512, 784])


ARCHS["dn128"] = ARCHS["up128"] = ARCHS["mlpw128"] = wide128

# Fast rate-aware codec model (rdf32, the default quality level): an MLP small enough that
# encode, the decode for the per-image PSNR and zstd run at >= 20x gzip -9's speed in numpy
# on 2 cores (~445k multiply-adds per image; rd32's CNN needs ~920k, mostly in im2col).
# Tried against 784-256-32 / 32-256-784 (same training: ~0.6 dB worse at ~8 B/image) and
# 784-128-32 / 32-128-384-784 (~0.1 dB worse) before choosing it.
ARCHS["mlpf32"] = lambda: wide_mlp([784, 256, 32], [32, 128, 256, 784])

# A 64-dim wide model with a deeper decoder, for the 16 B/image budget (issue 5).
ARCHS["mlpw64d"] = lambda: wide_mlp([784, 512, 64], [64, 256, 512, 784])
