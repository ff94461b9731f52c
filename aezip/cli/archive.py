"""The archive commands: ``compress``, ``extract``, ``info`` and ``test`` (gzip habits:
-f to overwrite, -q/-v, '-' for stdin/stdout; exit 0 ok, 1 error, 2 warning)."""

from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from ..codec import AezCompressor
from ..archive import read as unpack
from ..names import printable
from ..verdict import reason_codes
from ..container import PSNR_EXACT, PSNR_UNIT, SOURCE_FORMS
from ..errors import AezError
from ..outputs import sanitize_name, write_bytes_atomic
from ..zoo import measured_point
from ._io import SHOW_SKIPPED, decode_file, read_input_bytes, read_inputs, refuse_existing, unpack_file, write_images
from ._ui import EXIT_ERROR, Ui, fail

__all__ = ["WARN_PSNR", "compress", "extract", "info", "test_cmd"]

# Images reconstructing below this PSNR get a warning.  Chosen from the measured
# per-image PSNR of the MNIST test set against non-digit images (bench/trust.md).
WARN_PSNR = 11.0


def storable_names(ui, names, verbose):
    """*names* as the archive can store them: what extract would refuse (backslashes,
    control characters, '..') is replaced, kept apart from the other names with ~2, ~3...,
    and each change is said."""
    clean, used = [], set(names)
    for x in names:
        y = sanitize_name(x)
        if y != x:
            stem, dot, ext = y.rpartition(".") if "." in y.rsplit("/", 1)[-1] else (y, "", "")
            k = 2
            while y in used:
                y = f"{stem}~{k}{dot}{ext}"
                k += 1
            used.add(y)
        clean.append(y)
    changed = [(a, b) for a, b in zip(names, clean) if a != b]
    for a, b in changed[:SHOW_SKIPPED if not verbose else None]:
        ui.info(f"{a!r}: stored as {b!r} (a name extract would refuse)")
    return clean


def _report_stored(ui, data, names, n, min_psnr, warn_psnr, pre):
    """Say what the archive *data* stores: images kept losslessly, preprocessing, and warnings
    for images the digit check flagged and for images whose stored PSNR (what `info -v`
    shows) is below *warn_psnr*.  Images stored exactly lose nothing: no warning for them."""
    parsed = unpack(data)
    stored = parsed.psnr
    if min_psnr is not None:
        kept = len(parsed.raw_index)
        if kept:
            ui.info(f"{kept} of {n} image(s) below {min_psnr:g} dB stored losslessly")
    if pre:
        ui.info(f"{pre} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
    label = (lambda i: printable(names[i]) if names else f"#{i}")
    lossy = stored != PSNR_EXACT
    if parsed.verdicts is not None:
        flagged = np.flatnonzero((parsed.verdicts != 0) & lossy)
        if len(flagged):
            shown = flagged if ui.verbose else flagged[:5]
            which = ", ".join(f"{label(i)} ({', '.join(reason_codes(parsed.verdicts[i]))})" for i in shown)
            ui.warn(f"{len(flagged)} of {n} image(s) do not look like digits this model handles: "
                    f"{which}{' ...' if len(shown) < len(flagged) else ''} (see 'aezip info -v')")
    poor = np.flatnonzero(lossy & (stored * PSNR_UNIT < warn_psnr))
    if len(poor):
        shown = poor if ui.verbose else poor[:5]
        which = ", ".join(f"{label(i)} ({stored[i] * PSNR_UNIT:g} dB)" for i in shown)
        ui.warn(f"{len(poor)} of {n} image(s) reconstruct below {warn_psnr:g} dB (not digits?): "
                f"{which}{' ...' if len(shown) < len(poor) else ''}; "
                "use --min-psnr DB to store them exactly")


def compress(
    paths: List[str] = typer.Argument(..., help="Folders, image files, IDX files or .npy arrays; '-' for stdin."),
    output: str = typer.Option(..., "--output", "-o", help="The .aez file to write; '-' for stdout."),
    quality: Optional[int] = typer.Option(None, "--quality", "-Q", min=1, max=9,
                                          help="1 (smallest) to 9 (best); default 5."),
    model: Optional[str] = typer.Option(None, "--model", help="Use this model instead of the quality ladder's."),
    min_psnr: Optional[float] = typer.Option(None, "--min-psnr", metavar="DB",
                                             help="Store images that would reconstruct below DB losslessly."),
    warn_psnr: float = typer.Option(WARN_PSNR, "--warn-psnr", metavar="DB",
                                    help="Warn (exit 2) about images that reconstruct below DB "
                                         f"(default {WARN_PSNR:g}: see bench/trust.md)."),
    strict: bool = typer.Option(False, "--strict", help="Treat any skipped input file as an error."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite an existing output."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more."),
):
    """Compress digit images into one .aez archive."""
    ui = Ui(quiet, verbose)
    refuse_existing(output, force)
    images, names, pre, form, original = read_inputs(ui, paths, strict, verbose)
    if names:
        names = storable_names(ui, names, verbose)
    comp = AezCompressor(quality, model=model, min_psnr=min_psnr)
    with ui.task("encoding", len(images)) as advance:
        data = comp.compress_archive(images, names=names, source_form=form, progress=advance)[0]
    write_bytes_atomic(output, data, force=force)
    n = len(images)
    _report_stored(ui, data, names, n, min_psnr, warn_psnr, pre)
    ui.detail(f"{output}: {n} images, {len(data)} bytes ({len(data) / n:.2f} bytes/image), "
              f"model {comp.model.model_id}, quality {comp.quality or 'custom'}")
    if not quiet and output != "-":
        ui.info(f"{n} images -> {output}: {len(data):,} bytes, {len(data) / n:.2f} bytes/image "
                f"(input {original:,} bytes)")
    ui.exit_warned()


def _archive_form(header, fmt):
    if fmt:
        if fmt not in ("png", "idx", "npy"):
            fail(f"--format {fmt!r} must be png, idx or npy")
        return fmt
    form = SOURCE_FORMS[header.source_form]
    return "png" if form == "images" else form


def extract(
    archive: str = typer.Argument(..., help="The .aez file; '-' for stdin."),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="Folder for PNGs, or file for idx/npy; '-' for stdout."),
    fmt: Optional[str] = typer.Option(None, "--format", help="png (a folder), idx or npy (one file)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
):
    """Reconstruct the images in an .aez archive."""
    ui = Ui(quiet, verbose)
    with ui.task("decoding") as advance:
        arc, images = decode_file(archive, advance)
    form = _archive_form(arc.header, fmt)
    stem = "stdin" if archive == "-" else Path(archive).name.removesuffix(".aez")
    base = Path(archive).parent if archive != "-" else Path(".")
    if output == "-" or (archive == "-" and output is None):
        output = "-"
    elif output is None:
        output = base / (stem if form == "png" else f"{stem}.{form}")
    write_images(ui, images, arc.names, form, output, f"{stem}.{form}", force)


def _info_details(arc):
    """The lines `info -v` adds for one archive: format, quality point, PSNR summary, every image."""
    h = arc.header
    yield f"  {arc.describe()}"
    if h.quality:
        name, frac, row = measured_point(h.quality)
        if row and name == h.model_name and not arc.pixel_mode:
            yield (f"  quality {h.quality} = {name} at step x{frac:g}: on the MNIST test set "
                   f"{row['bytes_per_image']:.2f} B/image, {row['psnr']:.2f} dB (aezip models)")
    if arc.psnr is not None:
        lossy = arc.psnr[arc.psnr != PSNR_EXACT].astype(float) * PSNR_UNIT
        if len(lossy):
            yield (f"  PSNR (lower bound per image): min {lossy.min():.1f} dB, median "
                   f"{float(np.median(lossy)):.1f} dB, {int((lossy < WARN_PSNR).sum())} "
                   f"below {WARN_PSNR:g} dB, {h.count - len(lossy)} exact")
    for i in range(h.count):
        name = arc.names[i] if arc.names else f"#{i}"
        if arc.psnr is None:
            score = "?"
        elif arc.psnr[i] == PSNR_EXACT:
            score = "exact"
        else:
            score = f">= {arc.psnr[i] * PSNR_UNIT:.2f} dB"
        flag = ""
        if arc.verdicts is not None and arc.verdicts[i]:
            flag = f"  not digit-like: {', '.join(reason_codes(arc.verdicts[i]))}"
        yield f"  {i:>6}  {score:>12}  {printable(name) if arc.names else name}{flag}"


def info(
    archives: List[str] = typer.Argument(..., help=".aez files ('-' for stdin)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every image with its name and PSNR."),
):
    """Show what an archive holds, like gzip -l."""
    typer.echo(f"{'images':>8} {'original':>12} {'compressed':>11} {'ratio':>7} {'B/image':>8}  "
               f"{'quality':>7}  model / name")
    for path in archives:
        data = read_input_bytes(path)
        arc = unpack_file(path, data)
        h = arc.header
        original = h.count * h.height * h.width
        ratio = original / len(data)
        typer.echo(f"{h.count:>8} {original:>12,} {len(data):>11,} {ratio:>6.1f}x {len(data) / h.count:>8.2f}  "
                   f"{h.quality or 'custom':>7}  {h.model_id}  {path}")
        if verbose:
            for line in _info_details(arc):
                typer.echo(line)


def test_cmd(
    archives: List[str] = typer.Argument(..., help=".aez files to check ('-' for stdin)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
):
    """Check archives' integrity (checksum, structure, model present, decodes), like gzip -t."""
    bad = 0
    for path in archives:
        try:
            arc, images = decode_file(path)
        except AezError as e:
            bad += 1
            typer.echo(f"aezip: error: {e}", err=True)
            continue
        if verbose and not quiet:
            typer.echo(f"{path}: OK ({arc.header.count} images)", err=True)
    if bad:
        raise typer.Exit(EXIT_ERROR)
