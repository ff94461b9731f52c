"""``aezip train``: train an autoencoder on MNIST and export it (needs torch: the CPU build,
pinned, first, then the extra: see TORCH_HINT)."""

import shlex
import sys
from typing import Optional

import typer

from ..errors import AezError
from ..idx import find_mnist
from ..zoo import card_psnr

__all__ = ["train", "TORCH_HINT"]

# torch first, pinned (the CPU build the project tests), so that the extra does not pull
# an unpinned multi-GB CUDA build
TORCH_HINT = "pip install torch==2.13.0, then pip install 'aezip[train]'"


def train(
    ctx: typer.Context,
    data: str = typer.Option(..., "--data", help="Folder with the four MNIST IDX files (.gz or raw)."),
    arch: str = typer.Option("mlp9", "--arch", help="mlp9 (the lecture's MLP), cnn8..cnn64, mlpf32, ... (training.model.ARCHS)."),
    name: Optional[str] = typer.Option(None, "--name", help="Output name (default: the architecture)."),
    out: str = typer.Option("trained", "--out", help="Output folder."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1,
                                         help="Default 20 (autoencoders), 6 (pixels), the classifier's own."),
    batch_size: int = typer.Option(32, "--batch-size", min=1),
    lr: float = typer.Option(1e-3, "--lr", help="Adam learning rate (the lecture's 0.1 collapses)."),
    weight_decay: float = typer.Option(1e-8, "--weight-decay"),
    seed: int = typer.Option(0, "--seed"),
    train_limit: int = typer.Option(0, "--train-limit", help="Use only the first N training images."),
    noise: str = typer.Option("", "--noise", help="Denoising: gauss:SIGMA, sp:FRACTION or mix."),
    task: str = typer.Option("reconstruct", "--task",
                             help="reconstruct or upscale (14x14 -> 28x28) autoencoders; pixels: the lossless "
                                  "pixel model (aezip.training.pixel_model); classify: the digit check's "
                                  "classifier (aezip.training.classifier). Options after -- go to those two."),
    quant_noise: float = typer.Option(0.0, "--quant-noise", help="Rate-aware: train for this fixed quantization step."),
    rate_weight: float = typer.Option(0.0, "--rate-weight", help="Rate weight: bits/pixel (with --quant-noise), else L1."),
    threads: int = typer.Option(0, "--threads", help="Torch CPU threads (0: default)."),
    weights_dtype: str = typer.Option("float32", "--weights-dtype",
                                      help="float32, or float16 to store the weights in half the bytes."),
):
    """Train a model on MNIST and export it for the numpy runtime: an autoencoder (the codec's,
    denoise, upscale), the lossless pixel model, or the digit classifier."""
    # torch is an optional extra: imported only here, so that every other command works without it
    try:
        import torch  # noqa: F401  (only whether it imports)
    except ImportError:
        raise AezError(f"training needs torch: {TORCH_HINT}") from None
    find_mnist(data, "train"), find_mnist(data, "test")  # fail fast, before any work
    if task in ("pixels", "classify"):
        return _train_other(task, data, out, name, epochs, seed, threads, train_limit, list(ctx.args))
    if ctx.args:
        raise AezError(f"unexpected arguments {' '.join(ctx.args)!r} (only --task pixels/classify take more)")
    epochs = 20 if epochs is None else epochs
    from ..training.train import TrainConfig, train as run_train

    if weights_dtype not in ("float32", "float16"):
        raise AezError(f"--weights-dtype {weights_dtype!r} must be float32 or float16")
    if task not in ("reconstruct", "upscale"):
        raise AezError(f"--task {task!r} must be reconstruct or upscale")
    args = [a for a in sys.argv[1:]]
    command = "aezip " + " ".join(shlex.quote(a) for a in args)
    cfg = TrainConfig(arch=arch, name=name or arch, data=data, out=out, epochs=epochs, batch_size=batch_size,
                      lr=lr, weight_decay=weight_decay, seed=seed, train_limit=train_limit, noise=noise,
                      task=task, quant_noise=quant_noise, rate_weight=rate_weight, threads=threads,
                      weights_dtype=weights_dtype, command=command)
    card = run_train(cfg, log=lambda m: typer.echo(m, err=True))
    p = card_psnr(card)
    typer.echo(f"{card['name']}: test PSNR {p:.2f} dB, {card['train_seconds']:.0f} s -> {out}/{card['weights']}")


def _train_other(task, data, out, name, epochs, seed, threads, train_limit, extra):
    """The pixel model or the classifier, through their own trainers (same options, same cards)."""
    argv = ["--data", data, "--out", out, "--seed", str(seed)] + (["--epochs", str(epochs)] if epochs else [])
    if task == "pixels":
        from ..training.pixel_model import main
        argv += ["--name", name or "pixel", "--threads", str(threads or 1)]
        argv += ["--train-limit", str(train_limit)] if train_limit else []
    else:
        from ..training.classifier import main
        argv += ["--limit", str(train_limit)] if train_limit else []
        if name:
            raise AezError("--task classify writes trained/digitclf: --name does not apply")
    main(argv + extra)
