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

from .errors import AezError, BadInput

FORMATS = ("png", "idx", "npy")


def _small_array(path, data, shape):
    """IDX or .npy bytes -> uint8 (N, h, w) of exactly *shape*, without preprocessing."""
    from .idx import parse_idx
    from .errors import BadData

    name = str(path)
    if name.endswith(".npy") or data[:6] == b"\x93NUMPY":
        try:
            a = np.load(io.BytesIO(data), allow_pickle=False)
        except Exception as e:
            raise BadInput(f"{path}: not a readable .npy array ({e})") from None
    else:
        if data[:2] == b"\x1f\x8b":
            import gzip
            try:
                data = gzip.decompress(data)
            except (OSError, EOFError) as e:
                raise BadInput(f"{path}: corrupt gzip stream ({e})") from None
        try:
            a = parse_idx(data, name)
        except BadData as e:
            raise BadInput(str(e)) from None
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] == 0:
        raise BadInput(f"{path}: expected an image stack of shape (N, H, W), found {a.shape}")
    if a.shape[1:] != shape:
        raise BadInput(f"{path}: expected {shape[1]}x{shape[0]} images, found {a.shape[2]}x{a.shape[1]}")
    if a.dtype != np.uint8:
        if a.dtype.kind == "f" and a.size and np.nanmin(a) >= 0 and np.nanmax(a) <= 1:
            a = np.rint(a * 255)
        elif a.dtype.kind not in "iuf" or np.isnan(a).any() or a.min() < 0 or a.max() > 255:
            raise BadInput(f"{path}: array of {a.dtype} with values outside 0..255 (expected uint8 pixels)")
        a = a.astype(np.uint8)
    return np.ascontiguousarray(a)


def _small_image(path, data, shape):
    """One image file of exactly *shape* pixels -> uint8 (h, w), white ink on black."""
    from PIL import Image, UnidentifiedImageError

    from .inputs import MAX_IMAGE_PIXELS, _to_gray

    Image.MAX_IMAGE_PIXELS = MAX_IMAGE_PIXELS
    try:
        with Image.open(io.BytesIO(data)) as img:
            if img.size != (shape[1], shape[0]):
                raise BadInput(f"{path}: expected a {shape[1]}x{shape[0]} image, found {img.size[0]}x{img.size[1]}")
            img.load()
            gray = _to_gray(img)
    except BadInput:
        raise
    except UnidentifiedImageError:
        raise BadInput(f"{path}: not an image Pillow can read") from None
    except Exception as e:
        raise BadInput(f"{path}: corrupt or truncated image ({e})") from None
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    if np.median(border) > 0.5:
        gray = 1.0 - gray  # dark ink on light paper, as MNIST preprocessing would invert
    return np.rint(gray * 255).astype(np.uint8)


def gather_small(paths, shape=(14, 14)):
    """Like :func:`aezip.inputs.gather`, for images that must already be *shape* (no resizing)."""
    from . import container
    from .inputs import IMAGE_EXTENSIONS, Gathered, _is_idx_name, _read_file_bytes, _walk

    got = Gathered()
    jobs = []
    for arg in paths:
        p = Path(arg)
        if p.is_dir():
            files = _walk(p, {p.resolve()})
            if not files:
                raise BadInput(f"{p}: empty folder, no images")
            jobs += [(f, f.relative_to(p).as_posix(), False) for f in files]
        elif p.exists():
            jobs.append((p, p.name, True))
        elif p.is_symlink():
            raise BadInput(f"{p}: broken symbolic link")
        else:
            raise BadInput(f"{p}: no such file or folder")
    arrays = 0
    for path, name, explicit in jobs:
        lower = path.name.lower()
        try:
            if lower.endswith(".npy") or _is_idx_name(lower):
                data = _read_file_bytes(path)
                stack = _small_array(path, data, shape)
                got.images.append(stack)
                got.names.append((name, len(stack), True))
                got.original_bytes += len(data)
                arrays += 1
                got.source_form = container.SOURCE_NPY if lower.endswith(".npy") else container.SOURCE_IDX
                continue
            if not explicit and Path(lower).suffix not in IMAGE_EXTENSIONS:
                raise BadInput(f"{path}: not an image file (by its name)")
            data = _read_file_bytes(path)
            if not data:
                raise BadInput(f"{path}: empty file")
            got.images.append(_small_image(path, data, shape)[None])
            got.names.append((name, 1, False))
            got.original_bytes += len(data)
        except BadInput as e:
            if explicit:
                raise
            got.skipped.append((path, str(e)))
    if not got.images:
        raise BadInput(f"{', '.join(map(str, paths))}: no {shape[1]}x{shape[0]} images found"
                       + (f" ({len(got.skipped)} files skipped)" if got.skipped else ""))
    if arrays == 1 and len(got.names) == 1:
        got.names = None
    else:
        got.source_form = container.SOURCE_IMAGES
        names = []
        for name, n, is_array in got.names:
            if is_array:
                stem = name.rsplit("/", 1)[-1].split(".")[0]
                base = name.rsplit("/", 1)[0] + "/" if "/" in name else ""
                names += [f"{base}{stem}/{i:05d}.png" for i in range(n)]
            else:
                names.append(name)
        got.names = names
    return got


def _stdin_small(data, shape):
    from . import container

    if data[:6] == b"\x93NUMPY":
        return _small_array("<stdin>.npy", data, shape), None, container.SOURCE_NPY
    if data[:2] == b"\x1f\x8b" or data[:3] == b"\x00\x00\x08":
        return _small_array("<stdin>", data, shape), None, container.SOURCE_IDX
    return _small_image("<stdin>", data, shape)[None], ["stdin.png"], container.SOURCE_IMAGES


def _read_inputs(ui, paths, strict, shape):
    """(images, names or None, source form, input stem) from CLI paths or '-'."""
    from .cli import _read_input_bytes, _stdin_images, fail
    from .inputs import gather

    if paths == ["-"]:
        raw = _read_input_bytes("-")
        if not raw:
            fail("<stdin>: no input")
        if shape == (28, 28):
            images, names, pre, form = _stdin_images(raw)
            if pre:
                ui.info(f"{pre} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
        else:
            images, names, form = _stdin_small(raw, shape)
        return images, names, form, "stdin"
    if "-" in paths:
        fail("'-' (stdin) cannot be mixed with other inputs")
    if shape == (28, 28):
        got = gather(paths)
        if got.preprocessed:
            ui.info(f"{got.preprocessed} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
    else:
        got = gather_small(paths, shape)
    for path, reason in got.skipped:
        ui.warn(f"skipped {reason}" if str(path) in reason else f"skipped {path}: {reason}")
    if got.skipped and strict:
        fail(f"{len(got.skipped)} input file(s) skipped and --strict is set")
    stem = Path(paths[0]).name
    for suffix in (".gz", ".npy"):
        stem = stem.removesuffix(suffix)
    return got.stack(), got.names, got.source_form, stem


def _write_images(ui, images, names, form, fmt, output, stem, force, suffix):
    """Write result images like `aezip extract`: a PNG folder, or one IDX/.npy file."""
    from .cli import _array_bytes, _encode_png, fail
    from .container import SOURCE_FORMS
    from .outputs import output_names, write_bytes_atomic, write_tree

    if fmt is not None and fmt not in FORMATS:
        fail(f"--format {fmt!r} must be png, idx or npy")
    form = fmt or ("png" if SOURCE_FORMS[form] == "images" else SOURCE_FORMS[form])
    if output == "-":
        if form == "png":
            if len(images) != 1:
                fail("more than one image: use --format npy or idx to write to stdout")
            payload = _encode_png(images[0])
        else:
            payload = _array_bytes(images, form)
        write_bytes_atomic("-", payload)
        return
    if form == "png":
        rels = output_names(names or [f"{i:05d}" for i in range(len(images))], ".png")
        write_tree(Path(output), {rel: _encode_png(img) for rel, img in zip(rels, images)}, force=force)
        ui.detail("\n".join(str(Path(output) / r) for r in rels))
        ui.info(f"{len(images)} images -> {output}/")
    else:
        target = Path(output)
        if target.is_dir():
            target = target / f"{stem}-{suffix}.{'npy' if form == 'npy' else 'idx'}"
        write_bytes_atomic(target, _array_bytes(images, form), force=force)
        ui.info(f"{len(images)} images -> {target}")


def _show_rows(ui, paths, count, quality, model, app, noise, seed):
    """(rows of image stacks, per-column PSNR labels, caption) for `aezip show`."""
    from . import apps
    from .cli import _read_input_bytes, fail
    from .codec import AezCompressor, AezDecompressor, psnr_per_image
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
        _, recon = comp.encode(images)
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


def register(app):
    from .cli import Ui

    @app.command()
    def denoise(
        paths: List[str] = typer.Argument(..., help="Folders, image files, IDX files or .npy arrays; '-' for stdin."),
        output: str = typer.Option(..., "--output", "-o",
                                   help="Folder for PNGs, or file for idx/npy; '-' for stdout."),
        fmt: Optional[str] = typer.Option(None, "--format", help="png (a folder), idx or npy (one file)."),
        strict: bool = typer.Option(False, "--strict", help="Treat any skipped input file as an error."),
        force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more."),
    ):
        """Remove noise from 28x28 digit images with the bundled denoising autoencoder."""
        from . import apps

        ui = Ui(quiet, verbose)
        if fmt is not None and fmt not in FORMATS:
            raise BadInput(f"--format {fmt!r} must be png, idx or npy")
        images, names, form, stem = _read_inputs(ui, paths, strict, (28, 28))
        out = apps.denoise(images)
        _write_images(ui, out, names, form, fmt, output, stem, force, "denoised")
        if ui.warned:
            raise typer.Exit(2)

    @app.command()
    def upscale(
        paths: List[str] = typer.Argument(..., help="14x14 images: folders, image files, IDX/.npy; '-' for stdin."),
        output: str = typer.Option(..., "--output", "-o",
                                   help="Folder for PNGs, or file for idx/npy; '-' for stdout."),
        fmt: Optional[str] = typer.Option(None, "--format", help="png (a folder), idx or npy (one file)."),
        strict: bool = typer.Option(False, "--strict", help="Treat any skipped input file as an error."),
        force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
        quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
        verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more."),
    ):
        """Up-sample 14x14 digit images to 28x28 with the bundled up-sampling autoencoder."""
        from . import apps

        ui = Ui(quiet, verbose)
        if fmt is not None and fmt not in FORMATS:
            raise BadInput(f"--format {fmt!r} must be png, idx or npy")
        images, names, form, stem = _read_inputs(ui, paths, strict, (14, 14))
        out = apps.upscale(images)
        _write_images(ui, out, names, form, fmt, output, stem, force, "upscaled")
        if ui.warned:
            raise typer.Exit(2)

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
        from .outputs import OutputExists, write_bytes_atomic

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
