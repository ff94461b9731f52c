"""``aezip denoise``, ``aezip upscale`` and ``aezip show`` (the lecture's applications).

Inputs and outputs work as for compress/extract: folders, image files, IDX and
.npy files or '-' (stdin) in; PNGs under the input names in a folder, or one
IDX/.npy file for one array input, out; -f to overwrite; every output is
written whole or not at all.
"""

import io
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from .errors import BadInput

FORMATS = ("png", "idx", "npy")


def _transform(ui, paths, output, fmt, strict, force, shape, fn, suffix):
    """Read inputs of *shape*, apply *fn* (images -> images), write them as extract does."""
    from .cli import read_inputs, write_images
    from .container import SOURCE_FORMS

    if fmt is not None and fmt not in FORMATS:  # checked before any work
        raise BadInput(f"--format {fmt!r} must be png, idx or npy")
    images, names, pre, form, _ = read_inputs(ui, paths, strict, ui.verbose,
                                              None if shape == (28, 28) else shape, suffix)
    if pre:
        ui.info(f"{pre} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
    stem = "stdin" if paths == ["-"] else Path(paths[0]).name
    for ext in (".gz", ".npy"):
        stem = stem.removesuffix(ext)
    form = fmt or ("png" if SOURCE_FORMS[form] == "images" else SOURCE_FORMS[form])
    write_images(ui, fn(images), names, form, output, f"{stem}-{suffix}.{form}", force)
    if ui.warned:
        raise typer.Exit(2)


def _show_rows(ui, paths, count, quality, model, app, noise, seed):
    """(rows of image stacks, per-column PSNR labels, caption) for `aezip show`."""
    from . import apps
    from .cli import _read_input_bytes, fail
    from .codec import AezCompressor, AezDecompressor
    from .metrics import psnr_per_image
    from .container import MAGIC, PSNR_EXACT, PSNR_UNIT

    from . import is_aez
    from .inputs import gather

    aez = [p for p in paths if p != "-" and Path(p).is_file() and is_aez(p)]
    raw = None
    if paths == ["-"]:
        raw = _read_input_bytes("-")
        if not raw:
            fail("<stdin>: no input")
    if aez or (raw is not None and raw[:4] == MAGIC):
        if len(paths) != 1:
            fail("show takes one .aez archive, or image inputs (not both)")
        if app != "codec":
            fail(f"--app {app} needs images, not an .aez archive")
        arc, images = AezDecompressor().decompress_archive(raw if raw is not None else _read_input_bytes(paths[0]))
        images = images[:count]
        if arc.psnr is None:
            labels = ["?"] * len(images)
        else:
            labels = ["exact" if v == PSNR_EXACT else f">={v * PSNR_UNIT:.1f}" for v in arc.psnr[:count]]
        cap = f"{arc.header.model_id}: reconstructions, PSNR (dB) stored in the archive"
        return [images], labels, cap
    if raw is not None:
        from .cli import _stdin_images
        images = _stdin_images(raw)[0]
    else:
        got = gather(paths)
        for path, reason in got.skipped:
            ui.warn(f"skipped {reason}" if str(path) in reason else f"skipped {path}: {reason}")
        images = got.stack()
    images = images[:count]
    if app == "codec":
        comp = AezCompressor(quality if model is None else None, model=model)
        recon = comp.reconstruct(comp.encode(images)[0])
        cap = f"originals over {comp.model.model_id} q{comp.quality or '-'} reconstructions, PSNR (dB)"
        return [images, recon], apps.psnr_labels(psnr_per_image(images, recon)), cap
    if app == "denoise":
        noisy = apps.add_noise(images, noise, seed=seed)
        clean = apps.denoise(noisy)
        cap = f"originals, {noise} noise, denoised; PSNR (dB) of the denoised"
        return [images, noisy, clean], apps.psnr_labels(psnr_per_image(images, clean)), cap
    small = apps.downscale(images)
    big = apps.upscale(small)
    cap = "originals, 14x14 inputs, up-sampled 28x28; PSNR (dB)"
    return [images, small, big], apps.psnr_labels(psnr_per_image(images, big)), cap


# The options denoise and upscale share (typer builds each command's parameters from these).
_OUTPUT = typer.Option(..., "--output", "-o", help="Folder for PNGs, or file for idx/npy; '-' for stdout.")
_FORMAT = typer.Option(None, "--format", help="png (a folder), idx or npy (one file).")
_STRICT = typer.Option(False, "--strict", help="Treat any skipped input file as an error.")
_FORCE = typer.Option(False, "--force", "-f", help="Overwrite existing outputs.")
_QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
_VERBOSE = typer.Option(False, "--verbose", "-v", help="Say more.")


def register(app):
    from .cli import Ui

    @app.command()
    def denoise(
        paths: List[str] = typer.Argument(..., help="Folders, image files, IDX files or .npy arrays; '-' for stdin."),
        output: str = _OUTPUT,
        fmt: Optional[str] = _FORMAT,
        strict: bool = _STRICT,
        force: bool = _FORCE,
        quiet: bool = _QUIET,
        verbose: bool = _VERBOSE,
    ):
        """Remove noise from 28x28 digit images with the bundled denoising autoencoder."""
        from . import apps

        _transform(Ui(quiet, verbose), paths, output, fmt, strict, force, (28, 28), apps.denoise, "denoised")

    @app.command()
    def upscale(
        paths: List[str] = typer.Argument(..., help="14x14 images: folders, image files, IDX/.npy; '-' for stdin."),
        output: str = _OUTPUT,
        fmt: Optional[str] = _FORMAT,
        strict: bool = _STRICT,
        force: bool = _FORCE,
        quiet: bool = _QUIET,
        verbose: bool = _VERBOSE,
    ):
        """Up-sample 14x14 digit images to 28x28 with the bundled up-sampling autoencoder."""
        from . import apps

        _transform(Ui(quiet, verbose), paths, output, fmt, strict, force, (14, 14), apps.upscale, "upscaled")

    @app.command()
    def show(
        paths: List[str] = typer.Argument(..., help="One .aez archive, or images (folders, files, IDX, .npy, '-')."),
        output: str = typer.Option(..., "--output", "-o", help="The PNG to write; '-' for stdout."),
        count: int = typer.Option(20, "--count", "-n", help="How many images to show (at least 1)."),
        quality: Optional[int] = typer.Option(None, "--quality", "-Q",
                                              help="Codec quality 1-9 for image inputs (default 5)."),
        model: Optional[str] = typer.Option(None, "--model", help="Codec model instead of the quality ladder's."),
        app_: str = typer.Option("codec", "--app", help="codec (default), denoise or upscale."),
        noise: str = typer.Option("gauss:0.3", "--noise", help="Noise for --app denoise: gauss:SIGMA or sp:FRACTION."),
        seed: int = typer.Option(0, "--seed", help="Noise seed for --app denoise."),
        scale: int = typer.Option(3, "--scale", help="Screen pixels per image pixel (1 to 16)."),
        force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    ):
        """Draw originals over reconstructions with per-image PSNR (the lecture's Step 7)."""
        from . import apps
        from .cli import fail
        from .errors import OutputExists
        from .outputs import write_bytes_atomic

        ui = Ui(quiet, False)
        if count < 1:
            fail(f"--count {count} must be at least 1")
        if not 1 <= scale <= 16:
            fail(f"--scale {scale} must be from 1 to 16")
        if app_ not in ("codec", "denoise", "upscale"):
            fail(f"--app {app_!r} must be codec, denoise or upscale")
        if app_ == "denoise":
            apps.add_noise(np.zeros((1, 1), np.uint8), noise)  # check the spec before any work
        if output != "-" and (Path(output).exists() or Path(output).is_symlink()) and not force:
            raise OutputExists(f"{output}: already exists (use -f to overwrite)")
        rows, labels, caption = _show_rows(ui, paths, count, quality, model, app_, noise, seed)
        img = apps.picture(rows, labels, scale=scale, caption=caption)
        buf = io.BytesIO()
        img.save(buf, format="PNG")
        write_bytes_atomic(output, buf.getvalue(), force=force)
        if output != "-":
            ui.info(f"{len(rows[-1])} images -> {output} ({img.width}x{img.height})")
        if ui.warned:
            raise typer.Exit(2)
