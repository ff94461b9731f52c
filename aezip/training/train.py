"""Train an autoencoder on MNIST and export it for the numpy runtime (needs torch).

nanoGPT-style: one config, one loop, no framework.  ``aezip train`` calls
:func:`train`; everything it writes lands in ``--out`` under the model's name:

- ``NAME.npz``   weights + op lists + quantization calibration (no pickle),
- ``NAME.json``  the model card (command, data hashes, losses, PSNR, timing),
- ``NAME-loss.png`` and ``NAME-recon.png`` (the lecture's Steps 6 and 7).

Files are written to temporary names and renamed at the end, so a failed or
interrupted run leaves the output folder as it was.
"""

import math
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from .. import __version__
from ..idx import find_mnist, load_mnist, sha256_file
from .cards import write_model
from .model import FactorizedPrior, build, export_layers, sort_code_dims

__all__ = ["TrainConfig", "train"]


@dataclass
class TrainConfig:
    arch: str = "mlp9"
    name: str = ""              # output name; defaults to the architecture
    data: str = ""              # folder with the four MNIST IDX files
    out: str = "trained"        # output folder
    epochs: int = 20            # the lecture's 20
    batch_size: int = 32        # the lecture's 32
    lr: float = 1e-3            # the lecture's 0.1 collapses Adam; see trained/README.md
    weight_decay: float = 1e-8  # the lecture's value
    seed: int = 0
    train_limit: int = 0        # use only the first N training images (0 = all)
    noise: str = ""             # input corruption for denoising: "gauss:0.3", "sp:0.1", "mix"
    task: str = "reconstruct"   # or "upscale" (input 14x14 -> 28x28)
    quant_noise: float = 0.0    # rate-aware: train for a fixed quantization step of this many code units
    rate_weight: float = 0.0    # code-size penalty: bits/pixel under a learned prior (with quant_noise), else L1
    threads: int = 0            # torch threads (0 = torch's default)
    weights_dtype: str = "float32"  # or "float16": half the bundled size; the runtime computes in float32
    command: str = ""           # the command line, recorded in the card
    extra: dict = field(default_factory=dict)


def _progress():
    """A bar per epoch with the running loss, on stderr; off when stderr is not a terminal
    (then train() logs one line per epoch instead)."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    console = Console(stderr=True)
    return Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
        TextColumn("loss {task.fields[loss]:.5f}"), TimeRemainingColumn(),
        transient=False, console=console, disable=not console.is_terminal,
    )


def corrupt(x, spec, gen):
    """Add the noise named by *spec* to a batch in [0, 1] (torch, for training)."""
    if not spec:
        return x
    kinds = ["gauss:0.1", "gauss:0.3", "gauss:0.5", "sp:0.1"] if spec == "mix" else [spec]
    if len(kinds) > 1:
        pick = torch.randint(len(kinds), (x.shape[0],), generator=gen)
        out = x.clone()
        for i, k in enumerate(kinds):
            sel = pick == i
            if sel.any():
                out[sel] = corrupt(x[sel], k, gen)
        return out
    kind, _, level = spec.partition(":")
    level = float(level)
    if kind == "gauss":
        noisy = x + level * torch.randn(x.shape, generator=gen)
        return torch.round(noisy.clamp(0, 1) * 255) / 255
    if kind == "sp":
        u = torch.rand(x.shape, generator=gen)
        out = x.clone()
        out[u < level / 2] = 0.0
        out[(u >= level / 2) & (u < level)] = 1.0
        return out
    raise ValueError(f"unknown noise {spec!r} (use gauss:SIGMA, sp:FRACTION or mix)")


def downscale(x):
    """28x28 -> 14x14 by 2x2 box averaging, rounded to 8 bits (the upscale task's input)."""
    y = torch.nn.functional.avg_pool2d(x, 2)
    return torch.round(y * 255) / 255


def _inputs(cfg, x, gen):
    if cfg.task == "upscale":
        return downscale(x)
    return corrupt(x, cfg.noise, gen)


def _build(cfg):
    """(model, rate prior or None, the parameters to optimize) for *cfg*."""
    model = build(cfg.arch)
    if cfg.task == "upscale":
        # The encoder sees a 14x14 image; upsample it first so every arch applies.
        model.encoder.insert(0, torch.nn.Upsample(scale_factor=2, mode="nearest"))
    params = list(model.parameters())
    prior = None
    if cfg.quant_noise:
        # Rate-aware training for the codec's uniform quantizer with a fixed step
        # (cfg.quant_noise code units): the decoder sees codes rounded to that grid
        # (straight-through gradient), the rate term sees uniform noise of one step
        # (a differentiable stand-in for rounding), and the network learns its scale.
        prior = FactorizedPrior(model.latent_dim)
        params += list(prior.parameters())
    return model, prior, params


def _losses(cfg, model, prior, target, gen, dev):
    """(reconstruction loss, the loss to minimise) of one batch."""
    z = model.encoder(_inputs(cfg, target, gen))
    if prior is not None:
        y = z / cfg.quant_noise
        y_hat = y + (torch.round(y) - y).detach()
        recon = model.decoder(y_hat * cfg.quant_noise)
        loss = torch.nn.functional.mse_loss(recon, target)
        total = loss
        if cfg.rate_weight:
            noisy = y + (torch.rand(y.shape, generator=gen) - 0.5).to(dev)
            total = loss + cfg.rate_weight * prior.bits(noisy).sum(1).mean() / 784
        return loss, total
    recon = model.decoder(z)
    loss = torch.nn.functional.mse_loss(recon, target)
    return loss, (loss + cfg.rate_weight * z.abs().mean() if cfg.rate_weight else loss)


def _fit(cfg, model, prior, params, xt, log):
    """Train *model* (and *prior*) on the images *xt*; return the loss of every step."""
    dev = torch.device(cfg.extra.get("device", "cpu"))  # a GPU only for hyper-parameter sweeps
    model.to(dev)
    if prior is not None:
        prior.to(dev)
    xt_dev = xt.to(dev)
    opt = torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    gen = torch.Generator().manual_seed(cfg.seed)
    n = xt.shape[0]
    steps_per_epoch = math.ceil(n / cfg.batch_size)
    losses = []
    with _progress() as bar:
        for epoch in range(cfg.epochs):
            task = bar.add_task(f"epoch {epoch + 1}/{cfg.epochs}", total=steps_per_epoch, loss=float("nan"))
            perm = torch.randperm(n, generator=gen)
            running = 0.0
            model.train()
            for i in range(steps_per_epoch):
                idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
                if prior is not None and cfg.epochs > 1 and epoch == cfg.epochs - 1 and i == 0:
                    for g in opt.param_groups:  # last epoch at a tenth of the rate
                        g["lr"] = cfg.lr / 10
                loss, total = _losses(cfg, model, prior, xt_dev[idx.to(dev)], gen, dev)
                opt.zero_grad(set_to_none=True)
                total.backward()
                opt.step()
                lv = loss.item()
                losses.append(lv)
                running += (lv - running) * (0.02 if i else 1.0)
                if i % 50 == 0 or i == steps_per_epoch - 1:
                    bar.update(task, completed=i + 1, loss=running)
            if bar.disable:
                log(f"epoch {epoch + 1}/{cfg.epochs}: running loss {running:.5f}")
    return losses


def _evaluate(cfg, model, xt, xv):
    """(train loss, test loss, the training set's codes) of the trained model, on the CPU;
    a rate-aware model's code dimensions are sorted widest first."""
    model.cpu()
    model.eval()
    n = xt.shape[0]
    with torch.no_grad():
        gen_eval = torch.Generator().manual_seed(cfg.seed + 1)
        train_sse = sum(torch.nn.functional.mse_loss(model(_inputs(cfg, xt[j:j + 4096], gen_eval)),
                                                     xt[j:j + 4096], reduction="sum").item()
                        for j in range(0, n, 4096))
        codes = torch.cat([model.encoder(_inputs(cfg, xt[j:j + 4096], gen_eval)) for j in range(0, n, 4096)]).numpy()
        if cfg.quant_noise:
            # widest code dimensions first: alike neighbours code smaller (see sort_code_dims)
            order = np.argsort(-codes.std(0), kind="stable")
            sort_code_dims(model, order)
            codes = codes[:, order]
        test_in = torch.cat([_inputs(cfg, xv[j:j + 4096], gen_eval) for j in range(0, len(xv), 4096)])
        test_loss = torch.nn.functional.mse_loss(model(test_in), xv).item()
    return train_sse / (n * 784), test_loss, codes


def _export(cfg, model, codes, name):
    """(meta, arrays) of the weights file: the numpy op lists, their arrays, the calibration."""
    enc_ops, enc_arrays = export_layers(model.encoder, "encoder")
    dec_ops, dec_arrays = export_layers(model.decoder, "decoder")
    if cfg.task == "upscale":
        enc_ops[0] = {"op": "upsample_nearest", "scale": 2}
    calibration = {
        "mean": codes.mean(0).tolist(),
        "std": codes.std(0).tolist(),
        "min": codes.min(0).tolist(),
        "max": codes.max(0).tolist(),
    }
    if cfg.quant_noise:
        # the step the model was trained for: the codec's step fractions scale this
        calibration["quant_step"] = [float(cfg.quant_noise)] * int(model.latent_dim)
    meta = {
        "format": 1,
        "name": name,
        "arch": cfg.arch,
        "task": cfg.task if cfg.task != "reconstruct" or not cfg.noise else "denoise",
        "input_shape": [14, 14] if cfg.task == "upscale" else [28, 28],
        "output_shape": [28, 28],
        "latent_dim": int(model.latent_dim),
        "encoder": enc_ops,
        "decoder": dec_ops,
        "calibration": calibration,
    }
    arrays = {**enc_arrays, **dec_arrays}
    if cfg.weights_dtype != "float32":
        # stored rounded; the numpy runtime (and the card's measurements) compute in float32
        arrays = {k: v.astype(cfg.weights_dtype) for k, v in arrays.items()}
    return meta, arrays


def train(cfg: TrainConfig, log=print):
    """Run one training; return the model card dict."""
    t0 = time.perf_counter()
    torch.manual_seed(cfg.seed)
    np.random.seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    name = cfg.name or cfg.arch
    train_x, _ = load_mnist(cfg.data, "train")
    test_x, _ = load_mnist(cfg.data, "test")
    data_files = {p.name: sha256_file(p) for split in ("train", "test") for p in find_mnist(cfg.data, split)}
    if cfg.train_limit:
        train_x = train_x[: cfg.train_limit]
    xt = torch.from_numpy(train_x.astype(np.float32) / 255).unsqueeze(1)
    xv = torch.from_numpy(test_x.astype(np.float32) / 255).unsqueeze(1)
    model, prior, params = _build(cfg)
    losses = _fit(cfg, model, prior, params, xt, log)
    train_seconds = time.perf_counter() - t0
    train_loss, test_loss, codes = _evaluate(cfg, model, xt, xv)
    meta, arrays = _export(cfg, model, codes, name)
    card = {
        "name": name,
        "arch": cfg.arch,
        "architecture": str(model),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "command": cfg.command,
        "config": asdict(cfg),
        "data_sha256": data_files,
        "seed": cfg.seed,
        "epochs": cfg.epochs,
        "steps": len(losses),
        "first_losses_mean": float(np.mean(losses[:50])),
        "last_losses_mean": float(np.mean(losses[-50:])),
        "final_train_loss": train_loss,
        "final_test_loss": test_loss,
        "test_psnr_float_torch": 10 * math.log10(1 / test_loss),
        "train_seconds": round(train_seconds, 1),
        "versions": {
            "aezip": __version__, "torch": torch.__version__, "numpy": np.__version__,
            "python": platform.python_version(), "machine": platform.machine(),
            "threads": torch.get_num_threads(),
        },
    }
    return write_model(Path(cfg.out), name, meta, arrays, card, losses, cfg.data, log=log)
