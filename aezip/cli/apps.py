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

from .. import apps, is_aez
from ..codec import AezCompressor
from ..container import MAGIC, PSNR_EXACT, PSNR_UNIT, SOURCE_FORMS
from ..errors import BadInput
from ..inputs import read_stdin_images
from ..metrics import psnr_per_image
from ..outputs import write_bytes_atomic
from ._io import decoded_chunks, open_archive, read_input_bytes, read_inputs, read_stdin, refuse_existing, write_images
from ._ui import Ui, fail

__all__ = ["denoise", "upscale", "show"]

FORMATS = ("png", "idx", "npy")


def _transform(ui, paths, output, fmt, strict, force, shape, fn, suffix):
    """Read inputs of *shape*, apply *fn* (images -> images), write them as extract does."""
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
    ui.exit_warned()


def _archive_rows(path, data, count):
    """`show` of an archive: its first *count* reconstructions with the PSNR stored in it."""
    arc = open_archive(path, data)
    parts = []
    for start, stop, images in decoded_chunks(path, arc, chunk=min(count, 4096)):   # only what is drawn
        parts.append(images[:count - start])
        if stop >= count:
            break
    images = np.concatenate(parts)
    if arc.psnr is None:
        labels = ["?"] * len(images)
    else:
        labels = ["exact" if v == PSNR_EXACT else f">={v * PSNR_UNIT:.1f}" for v in arc.psnr[:count]]
    return [images], labels, f"{arc.header.model_id}: reconstructions, PSNR (dB) stored in the archive"


def _app_rows(images, quality, model, app, noise, seed):
    """`show` of images: originals over what the codec, the denoiser or the up-sampler makes."""
    if app == "codec":
        comp = AezCompressor(quality if model is None else None, model=model)
        recon = comp.decode(comp.encode(images)[0])
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


def _show_rows(ui, paths, count, quality, model, app, noise, seed):
    """(rows of image stacks, per-column PSNR labels, caption) for `aezip show`."""
    aez = [p for p in paths if p != "-" and Path(p).is_file() and is_aez(p)]
    raw = read_stdin() if paths == ["-"] else None
    if aez or (raw is not None and raw[:4] == MAGIC):
        if len(paths) != 1:
            fail("show takes one .aez archive, or image inputs (not both)")
        if app != "codec":
            fail(f"--app {app} needs images, not an .aez archive")
        if quality is not None or model is not None:
            fail(f"{'-Q' if quality is not None else '--model'} applies to image inputs: an .aez archive "
                 "is shown as it was compressed (see `aezip info` for its quality)")
        return _archive_rows(paths[0], raw if raw is not None else read_input_bytes(paths[0]), count)
    if raw is not None:
        images = read_stdin_images(raw).stack()
    else:
        images = read_inputs(ui, paths, False, True, action="shown")[0]
    return _app_rows(images[:count], quality, model, app, noise, seed)


# The options denoise and upscale share (typer builds each command's parameters from these).
_OUTPUT = typer.Option(..., "--output", "-o", help="Folder for PNGs, or file for idx/npy; '-' for stdout.")
_FORMAT = typer.Option(None, "--format", help="png (a folder), idx or npy (one file).")
_STRICT = typer.Option(False, "--strict", help="Treat any skipped input file as an error.")
_FORCE = typer.Option(False, "--force", "-f", help="Overwrite existing outputs.")
_QUIET = typer.Option(False, "--quiet", "-q", help="Print nothing but errors.")
_VERBOSE = typer.Option(False, "--verbose", "-v", help="Say more.")


def _transform_command(name, shape, fn, suffix, paths_help, doc):
    """The `denoise` or `upscale` command: read images of *shape*, apply *fn*, write them."""
    def command(
        paths: List[str] = typer.Argument(..., help=paths_help),
        output: str = _OUTPUT,
        fmt: Optional[str] = _FORMAT,
        strict: bool = _STRICT,
        force: bool = _FORCE,
        quiet: bool = _QUIET,
        verbose: bool = _VERBOSE,
    ):
        _transform(Ui(quiet, verbose), paths, output, fmt, strict, force, shape, fn, suffix)

    command.__name__ = command.__qualname__ = name
    command.__doc__ = doc
    return command


denoise = _transform_command(
    "denoise", (28, 28), apps.denoise, "denoised",
    "Folders, image files, IDX files or .npy arrays; '-' for stdin.",
    "Remove noise from 28x28 digit images with the bundled denoising autoencoder.")
upscale = _transform_command(
    "upscale", (14, 14), apps.upscale, "upscaled",
    "14x14 images: folders, image files, IDX/.npy; '-' for stdin.",
    "Up-sample 14x14 digit images to 28x28 with the bundled up-sampling autoencoder.")


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
    ui = Ui(quiet, False)
    if count < 1:
        fail(f"--count {count} must be at least 1")
    if not 1 <= scale <= 16:
        fail(f"--scale {scale} must be from 1 to 16")
    if app_ not in ("codec", "denoise", "upscale"):
        fail(f"--app {app_!r} must be codec, denoise or upscale")
    if app_ != "codec" and (quality is not None or model is not None):
        fail(f"{'-Q' if quality is not None else '--model'} sets the codec: it does not apply to --app {app_}")
    if quality is not None and not 1 <= quality <= 9:
        fail(f"-Q {quality} must be from 1 to 9")
    if app_ == "denoise":
        apps.add_noise(np.zeros((1, 1), np.uint8), noise)  # check the spec before any work
    refuse_existing(output, force)
    rows, labels, caption = _show_rows(ui, paths, count, quality, model, app_, noise, seed)
    img = apps.picture(rows, labels, scale=scale, caption=caption)
    buf = io.BytesIO()
    img.save(buf, format="PNG")
    write_bytes_atomic(output, buf.getvalue(), force=force)
    if output != "-":
        ui.info(f"{len(rows[-1])} images -> {output} ({img.width}x{img.height})")
    ui.exit_warned()
