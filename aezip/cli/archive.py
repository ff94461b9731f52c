"""The archive commands: ``compress``, ``extract``, ``info`` and ``test`` (gzip habits:
-f to overwrite, -q/-v, '-' for stdin/stdout; exit 0 ok, 1 error, 2 warning)."""

import json
from pathlib import Path
from typing import List, Optional

import numpy as np
import typer

from ..codec import AezCompressor
from ..archive import read as unpack
from ..verdict import REASONS, reason_codes
from ..container import PSNR_EXACT, PSNR_UNIT, SOURCE_FORMS
from ..errors import AezError
from ..names import check_name, printable, unique_names
from ..outputs import write_bytes_atomic
from ..zoo import measured_point
from ._io import (SHOW_SKIPPED, decoded_chunks, form_of_output, open_archive, read_input_bytes, read_inputs,
                  refuse_existing, refuse_input_as_output, refuse_terminal, write_chunks)
from ._ui import EXIT_ERROR, Ui, fail, safe_text

__all__ = ["WARN_PSNR", "compress", "extract", "info", "test_cmd", "storable_names", "VERDICT_REASONS"]

# Images reconstructing below this PSNR get a warning.  Chosen from the measured
# per-image PSNR of the MNIST test set against non-digit images (bench/trust.md).
WARN_PSNR = 11.0
# The reason bits of an archive's per-image verdicts (bit 0 first), as `info -v --json` spells them.
VERDICT_REASONS = tuple(code for _, (code, _) in sorted(REASONS.items()))   # bit k -> reason


def storable_names(ui, names, verbose):
    """*names* as the archive stores them (:func:`aezip.names.unique_names`): valid, and
    unique under NFC + case folding, so that `extract` writes every one.  Names that are
    valid as given are placed first, so they keep their names.  A name made valid (a
    backslash, a control character, ...) is said, as before; valid names that collide (the
    same relative path under two input folders, ``A.png`` and ``a.png``) get ``~2``, ``~3``...
    with a warning (exit 2) that lists how."""
    order = sorted(range(len(names)), key=lambda i: check_name(names[i]) is not None)
    stored, _ = unique_names([names[i] for i in order])
    clean = [None] * len(names)
    for i, n in zip(order, stored):
        clean[i] = n
    changed = [(a, b) for a, b in zip(names, clean) if a != b]
    fixed = [(a, b) for a, b in changed if check_name(a) is not None]
    numbered = [(a, b) for a, b in changed if check_name(a) is None]
    limit = None if verbose else SHOW_SKIPPED
    for a, b in fixed[:limit]:
        ui.info(f"{printable(a)}: stored as {printable(b)} (a name extract would refuse)")
    if numbered:
        shown = "; ".join(f"{printable(a)} stored as {printable(b)}" for a, b in numbered[:limit])
        more = f"; ... and {len(numbered) - SHOW_SKIPPED} more (-v lists all)" if limit and len(numbered) > limit else ""
        ui.warn(f"{len(numbered)} input name(s) are taken by another (the same path twice, or the same "
                f"file on a case-insensitive disk), so a number was added: {shown}{more}")
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


_STDOUT = typer.Option(False, "--stdout", "-c", help="Write to stdout (as -o -).")
_KEEP = typer.Option(False, "--keep", "-k", help="Accepted for gzip's sake: inputs are always kept.")


def default_archive_name(paths):
    """Where `compress` writes without -o: stdout for stdin, else PATH.aez beside the one input
    (a folder ``digits/`` -> ``digits.aez``, ``x.npy`` -> ``x.npy.aez``)."""
    if paths == ["-"]:
        return "-"
    if len(paths) != 1:
        fail(f"{len(paths)} inputs make one archive: name it with -o (or -c for stdout)")
    p = Path(paths[0])
    if p.name in ("", ".", ".."):
        p = p.resolve()
    return str(p.parent / f"{p.name}.aez")


def compress(
    paths: List[str] = typer.Argument(..., help="Folders, image files, IDX files or .npy arrays; '-' for stdin."),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="The .aez file to write; '-' for stdout "
                                              "(default: INPUT.aez beside a single input; stdout for stdin)."),
    stdout: bool = _STDOUT,
    quality: Optional[int] = typer.Option(None, "--quality", "-Q", min=1, max=9,
                                          help="1 (smallest) to 9 (best); default 5 (also -1 .. -9)."),
    model: Optional[str] = typer.Option(None, "--model", help="Use this model instead of the quality ladder's."),
    min_psnr: Optional[float] = typer.Option(None, "--min-psnr", metavar="DB",
                                             help="Store images that would reconstruct below DB losslessly."),
    warn_psnr: float = typer.Option(WARN_PSNR, "--warn-psnr", metavar="DB",
                                    help="Warn (exit 2) about images that reconstruct below DB "
                                         f"(default {WARN_PSNR:g}: see bench/trust.md)."),
    lossless: bool = typer.Option(False, "--lossless",
                                  help="Store the exact pixels, coded by the learned pixel model (beats xz on digits)."),
    max_error: Optional[int] = typer.Option(None, "--max-error", min=1, max=32, metavar="K",
                                            help="Near-lossless: every pixel within ±K (1..32) of the input."),
    preprocess: bool = typer.Option(False, "--preprocess",
                                    help="With --lossless/--max-error/--min-psnr: store inputs that are not 28x28 "
                                         "white-on-black in their MNIST-preprocessed form (info says so)."),
    no_check: bool = typer.Option(False, "--no-check",
                                  help="Skip the digit check (faster; the archive stores no verdicts)."),
    strict: bool = typer.Option(False, "--strict", help="Treat any skipped input file as an error."),
    force: bool = typer.Option(False, "--force", "-f",
                               help="Overwrite an existing output; write to stdout even if it is a terminal."),
    keep: bool = _KEEP,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors (the exit status stays)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Say more."),
):
    """Compress digit images into one .aez archive."""
    ui = Ui(quiet, verbose)
    if stdout:
        if output not in (None, "-"):
            fail(f"-c writes to stdout, but -o names {output}")
        output = "-"
    if output is None:
        output = default_archive_name(paths)
    refuse_terminal(output, force)
    refuse_input_as_output(output, paths)
    refuse_existing(output, force)
    pixel_mode = lossless or max_error is not None
    exact = ("--lossless" if lossless else f"--max-error {max_error}" if max_error is not None
             else "--min-psnr" if min_psnr is not None else None)
    if pixel_mode and (quality is not None or model is not None or min_psnr is not None):
        fail(f"{exact} codes the pixels themselves: --quality, --model and --min-psnr do not apply")
    if lossless and max_error is not None:
        fail("--lossless is --max-error 0: give one of them")
    images, names, pre, form, original = read_inputs(ui, paths, strict, verbose,
                                                     keep_pixels=None if preprocess else exact)
    if names:
        names = storable_names(ui, names, verbose)
    if pixel_mode:
        comp = AezCompressor(lossless=lossless, max_error=max_error)
    else:
        comp = AezCompressor(quality, model=model, min_psnr=min_psnr, judge=not no_check)
    with ui.task("encoding", len(images)) as advance:
        data = comp.compress_archive(images, names=names, source_form=form, progress=advance,
                                     preprocessed=bool(pre))[0]
    write_bytes_atomic(output, data, force=force)
    n = len(images)
    _report_stored(ui, data, names, n, min_psnr, warn_psnr, pre)
    what = (f"model {comp.model.model_id}, quality {comp.quality or 'custom'}" if comp.model is not None else
            f"pixel model, {'lossless' if not comp.max_error else f'max error {comp.max_error}'}")
    ui.detail(f"{output}: {n} images, {len(data)} bytes ({len(data) / n:.2f} bytes/image), {what}")
    if not quiet and output != "-":
        ui.info(f"{n} images -> {output}: {len(data):,} bytes, {len(data) / n:.2f} bytes/image "
                f"(input {original:,} bytes)")
    ui.exit_warned()


FORMATS = ("png", "idx", "npy")


def _archive_form(header, fmt, output):
    """(form, gzipped or None) to extract as: --format, else what -o's name says (``x.npy``,
    ``x.idx``, ``x.idx.gz``), else what the archive's images came from."""
    if fmt:
        if fmt not in FORMATS:
            fail(f"--format {fmt!r} must be png, idx or npy")
        return fmt, None
    named, gz = form_of_output(output) if output not in (None, "-") else (None, False)
    if named:
        return named, gz
    form = SOURCE_FORMS[header.source_form]
    return ("png" if form == "images" else form), None


def default_output(archive, form):
    """Where `extract` writes without -o: beside the archive, its name without .aez: a folder
    ``x/`` for PNGs, ``x.npy`` / ``x.idx`` for arrays (``x.npy.aez`` -> ``x.npy``; a name
    already ending in .idx.gz, -ubyte.gz ... keeps its ending, and the file is gzip'd)."""
    stem = "stdin" if archive == "-" else Path(archive).name.removesuffix(".aez")
    base = Path(archive).parent if archive != "-" else Path(".")
    if form == "png" or form_of_output(stem)[0] == form:
        return base / stem, f"{stem}"
    return base / f"{stem}.{form}", f"{stem}.{form}"


def extract(
    archive: str = typer.Argument(..., help="The .aez file; '-' for stdin."),
    output: Optional[str] = typer.Option(None, "--output", "-o",
                                         help="Folder for PNGs, or file for idx/npy (its ending, .npy, .idx or "
                                              ".idx.gz, picks the format); '-' for stdout."),
    stdout: bool = _STDOUT,
    fmt: Optional[str] = typer.Option(None, "--format", help="png (a folder), idx or npy (one file)."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing outputs."),
    keep: bool = _KEEP,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
):
    """Reconstruct the images in an .aez archive."""
    ui = Ui(quiet, verbose)
    if stdout:
        if output not in (None, "-"):
            fail(f"-c writes to stdout, but -o names {output}")
        output = "-"
    arc = open_archive(archive)
    h = arc.header
    form, gzipped = _archive_form(h, fmt, output)
    if output == "-" or (archive == "-" and output is None):
        output, file_name = "-", None
    elif output is None:
        output, file_name = default_output(archive, form)
    else:
        file_name = default_output(archive, form)[1]
    with ui.task("decoding", h.count) as advance:
        write_chunks(ui, decoded_chunks(archive, arc, advance), h.count, (h.height, h.width), arc.names,
                     form, output, file_name, force, gzipped)


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
        yield f"  {i:>6}  {score:>12}  {safe_text(name)}{flag}"


def _reason(bits):
    """The verdict reason bits of one image in words, or None when it was not flagged."""
    words = [w for k, w in enumerate(VERDICT_REASONS) if bits >> k & 1]
    unknown = int(bits) >> len(VERDICT_REASONS)
    if unknown:
        words.append(f"reason bits 0x{unknown << len(VERDICT_REASONS):02x}")
    return ", ".join(words) or None


def image_records(path, arc):
    """One dict per image for `info -v --json`: index, name, psnr (dB lower bound, None when
    exact or not stored), exact, flagged and reason (None when the archive was not judged)."""
    judged = getattr(arc, "judged", False)
    verdicts = getattr(arc, "verdicts", None)
    if judged and verdicts is None:        # judged, and nothing was flagged
        verdicts = np.zeros(arc.header.count, np.uint8)
    exact = np.zeros(arc.header.count, bool)
    exact[np.asarray(arc.raw_index, np.int64)] = True
    for i in range(arc.header.count):
        stored = None if arc.psnr is None else int(arc.psnr[i])
        is_exact = bool(exact[i] or stored == PSNR_EXACT)
        yield {"archive": path, "index": i, "name": arc.names[i] if arc.names else None,
               "psnr": None if stored is None or is_exact else stored * PSNR_UNIT, "exact": is_exact,
               "flagged": None if verdicts is None else bool(verdicts[i]),
               "reason": None if verdicts is None else _reason(int(verdicts[i]))}


def archive_record(path, arc, size):
    h = arc.header
    original = h.count * h.height * h.width
    return {"archive": path, "images": h.count, "original_bytes": original, "compressed_bytes": size,
            "ratio": original / size, "bytes_per_image": size / h.count, "quality": h.quality or None, "max_error": h.max_error,
            "model": h.model_id}


def _json_line(record):
    """One JSON line; ensure_ascii escapes every non-ASCII character, controls and bidi included."""
    return json.dumps(record, ensure_ascii=True, allow_nan=False)


def info(
    archives: List[str] = typer.Argument(..., help=".aez files ('-' for stdin)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every image with its name and PSNR."),
    as_json: bool = typer.Option(False, "--json", help="One JSON line per archive (with -v: per image, "
                                                         "with its name, psnr, exact, flagged and reason)."),
):
    """Show what archives hold, like gzip -l: one line each and, for several, a totals line;
    a bad file is reported and the rest still listed (exit 1)."""
    if not as_json:
        typer.echo(f"{'images':>8} {'original':>12} {'compressed':>11} {'ratio':>7} {'B/image':>8}  "
                   f"{'quality':>7}  model / name")
    bad, totals = 0, [0, 0, 0]   # images, original bytes, compressed bytes of the good files
    for path in archives:
        try:
            data = read_input_bytes(path)
            arc = open_archive(path, data)
        except AezError as e:
            bad += 1
            typer.echo(f"aezip: error: {safe_text(e)}", err=True)
            continue
        size = len(data)
        del data
        if as_json:
            for record in image_records(path, arc) if verbose else [archive_record(path, arc, size)]:
                typer.echo(_json_line(record))
            continue
        h = arc.header
        original = h.count * h.height * h.width
        totals = [totals[0] + h.count, totals[1] + original, totals[2] + size]
        typer.echo(safe_text(f"{h.count:>8} {original:>12,} {size:>11,} {original / size:>6.1f}x "
                             f"{size / h.count:>8.2f}  {h.quality_label:>7}  {h.model_id}  {path}"))
        if verbose:
            for line in _info_details(arc):
                typer.echo(line)
    if len(archives) > 1 and not as_json and totals[2]:
        n, original, size = totals
        typer.echo(f"{n:>8} {original:>12,} {size:>11,} {original / size:>6.1f}x {size / n:>8.2f}  "
                   f"{'':>7}  (totals{f', {bad} bad file(s) left out' if bad else ''})")
    if bad:
        raise typer.Exit(EXIT_ERROR)


def test_cmd(
    archives: List[str] = typer.Argument(..., help=".aez files to check ('-' for stdin)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
):
    """Check archives' integrity (checksum, structure, names as extract checks them, model
    present, decodes), like gzip -t; a bad file is reported, the rest still tested (exit 1)."""
    bad = 0
    for path in archives:
        try:
            arc = open_archive(path)
            for _ in decoded_chunks(path, arc):
                pass
        except AezError as e:
            bad += 1
            typer.echo(f"aezip: error: {safe_text(e)}", err=True)
            continue
        if verbose and not quiet:
            typer.echo(safe_text(f"{path}: OK ({arc.header.count} images)"), err=True)
    if len(archives) > 1 and not quiet:
        typer.echo(f"aezip: {len(archives) - bad} of {len(archives)} archives OK"
                   + (f", {bad} bad" if bad else ""), err=True)
    if bad:
        raise typer.Exit(EXIT_ERROR)
