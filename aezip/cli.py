"""The ``aezip`` command line (typer).  gzip habits: -f to overwrite, -q/-v,
'-' for stdin/stdout, exit 0 ok, 1 error, 2 warning; errors are one line on
stderr, never a traceback."""

import io
import sys
from pathlib import Path
from typing import List, Optional

import typer

from . import __version__
from .errors import AezError

try:  # typer >= 0.24 vendors click as typer._click; older ones use the click package
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _ClickException

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learned lossy compression for 28x28 handwritten-digit images.",
                  context_settings={"help_option_names": ["-h", "--help"]})

EXIT_OK, EXIT_ERROR, EXIT_WARNING = 0, 1, 2
# Images reconstructing below this PSNR get a warning.  Chosen from the measured
# per-image PSNR of the MNIST test set against non-digit images (bench/trust.md).
WARN_PSNR = 11.0
SHOW_SKIPPED = 10   # skipped input files listed one by one; the rest are counted
# Commands that live in their own modules; each module has register(app).
PLUGINS = ["aezip.cli_train", "aezip.cli_bench", "aezip.cli_apps"]


class Ui:
    """Messages on stderr; a progress bar for long work when stderr is a terminal."""

    def __init__(self, quiet=False, verbose=False):
        self.quiet, self.verbose = quiet, verbose
        self.warned = False

    def info(self, msg):
        if not self.quiet:
            typer.echo(msg, err=True)

    def detail(self, msg):
        if self.verbose and not self.quiet:
            typer.echo(msg, err=True)

    def warn(self, msg):
        """A warning: printed and exit status 2, unless -q (then neither, like gzip -q)."""
        if not self.quiet:
            self.warned = True
            typer.echo(f"aezip: warning: {msg}", err=True)

    def task(self, what, total=None):
        """A progress bar on stderr, shown only on a terminal and only once work has run 1 s."""
        return _Progress(what, total, enabled=not self.quiet)


class _Progress:
    """Context manager yielding advance(n); draws a rich bar once the work has taken a second."""

    DELAY = 1.0

    def __init__(self, what, total, enabled):
        import time
        self.what, self.total, self.enabled = what, total, enabled
        self.done, self.bar, self.start = 0, None, time.monotonic()

    def __enter__(self):
        if self.enabled:
            from rich.console import Console
            self.enabled = Console(stderr=True).is_terminal
        return self.advance

    def advance(self, n=1):
        import time
        self.done += n
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.start >= self.DELAY:
            from rich.console import Console
            from rich.progress import Progress
            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.id = self.bar.add_task(self.what, total=self.total, completed=self.done)
        if self.bar is not None:
            self.bar.update(self.id, completed=self.done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def fail(msg, code=EXIT_ERROR):
    typer.echo(f"aezip: error: {msg}", err=True)
    raise typer.Exit(code)


def version_callback(value: bool):
    if value:
        typer.echo(f"aezip {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", "-V", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")):
    """aezip compresses digit images with a bundled autoencoder (lossy; see `aezip models`)."""


def _read_input_bytes(path):
    if str(path) == "-":
        return sys.stdin.buffer.read()
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise AezError(f"{p}: no such file") from None
    except IsADirectoryError:
        raise AezError(f"{p}: is a folder, expected an .aez file") from None
    except OSError as e:
        raise AezError(f"{p}: cannot read ({e.strerror})") from None


def _named(path, error):
    """The same AezError with the file's name in front of its message."""
    name = "<stdin>" if str(path) == "-" else str(path)
    msg = str(error)
    if msg.startswith(name):
        return error
    return type(error)(f"{name}: {msg}")


def _decode_file(path, progress=None):
    """Read and decode one .aez file: (archive, images); errors name the file."""
    data = _read_input_bytes(path)
    try:
        return _decoder().decompress_archive(data, progress)
    except AezError as e:
        raise _named(path, e) from None


_DECODER = []


def _decoder():
    from .codec import AezDecompressor
    if not _DECODER:
        _DECODER.append(AezDecompressor())
    return _DECODER[0]


def _stdin_images(data, exact_shape=None):
    """Images from bytes on stdin: IDX (raw or gzip), .npy or one image file."""
    from . import container
    from .inputs import _read_array_file, load_image

    if data[:6] == b"\x93NUMPY":
        stack, pre = _read_array_file("<stdin>.npy", data, exact_shape)
        return stack, None, pre, container.SOURCE_NPY
    if data[:2] == b"\x1f\x8b" or data[:3] == b"\x00\x00\x08":
        stack, pre = _read_array_file("<stdin>", data, exact_shape)
        return stack, None, pre, container.SOURCE_IDX
    img, pre = load_image("<stdin>", data, exact_shape)
    return img[None], ["stdin.png"], int(pre), container.SOURCE_IMAGES


def read_inputs(ui, paths, strict, verbose=False, exact_shape=None, action="compressed"):
    """Images from CLI *paths* or '-' (stdin), as compress, denoise and upscale read them:
    (images, names or None, number preprocessed, source form, input bytes).  Skipped files
    are reported (the first SHOW_SKIPPED unless *verbose*), and with *strict* are an error."""
    from .inputs import gather

    if paths == ["-"]:
        raw = _read_input_bytes("-")
        if not raw:
            fail("<stdin>: no input")
        images, names, pre, form = _stdin_images(raw, exact_shape)
        return images, names, pre, form, len(raw)
    if "-" in paths:
        fail("'-' (stdin) cannot be mixed with other inputs")
    with ui.task("reading inputs") as advance:
        got = gather(paths, progress=advance, exact_shape=exact_shape)
    skipped = got.skipped
    for path, reason in skipped[:SHOW_SKIPPED if not verbose else None]:
        ui.warn(f"skipped {reason}" if str(path) in reason else f"skipped {path}: {reason}")
    if len(skipped) > SHOW_SKIPPED and not verbose:
        ui.warn(f"... and {len(skipped) - SHOW_SKIPPED} more skipped file(s) (-v lists all)")
    if skipped:
        ui.warn(f"{len(skipped)} file(s) skipped, {got.count} image(s) {action}")
        if strict:
            fail(f"{len(skipped)} input file(s) skipped and --strict is set")
    return got.stack(), got.names, got.preprocessed, got.source_form, got.original_bytes


@app.command()
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
    from .codec import AezCompressor
    from .container import PSNR_EXACT, PSNR_UNIT, unpack
    from .errors import OutputExists
    from .outputs import sanitize_name, write_bytes_atomic

    ui = Ui(quiet, verbose)
    if output != "-" and Path(output).exists() and not force:
        raise OutputExists(f"{output}: already exists (use -f to overwrite)")
    images, names, pre, form, original = read_inputs(ui, paths, strict, verbose)
    if names:
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
        names = clean
    comp = AezCompressor(quality if model is None else None, model=model, min_psnr=min_psnr)
    with ui.task("encoding", len(images)) as advance:
        data = comp.compress_scored(images, names=names, source_form=form, progress=advance)[0]
    # The per-image PSNR stored in the archive (its quality contract), so what is
    # reported here is what `info -v` shows; 255 means exact (stored losslessly).
    parsed = unpack(data)
    stored = parsed.psnr
    write_bytes_atomic(output, data, force=force)
    n = len(images)
    if min_psnr is not None:
        kept = len(parsed.raw_index)
        if kept:
            ui.info(f"{kept} of {n} image(s) below {min_psnr:g} dB stored losslessly")
    poor = [i for i in range(n) if stored[i] != PSNR_EXACT and stored[i] * PSNR_UNIT < warn_psnr]
    if pre:
        ui.info(f"{pre} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
    if poor:
        shown = poor if verbose else poor[:5]
        which = ", ".join(f"{names[i] if names else f'#{i}'} ({stored[i] * PSNR_UNIT:g} dB)" for i in shown)
        ui.warn(f"{len(poor)} of {n} image(s) reconstruct below {warn_psnr:g} dB (not digits?): "
                f"{which}{' ...' if len(shown) < len(poor) else ''}; "
                "use --min-psnr DB to store them exactly")
    ui.detail(f"{output}: {n} images, {len(data)} bytes ({len(data) / n:.2f} bytes/image), "
              f"model {comp.model.model_id}, quality {comp.quality or 'custom'}")
    if not quiet and output != "-":
        ui.info(f"{n} images -> {output}: {len(data):,} bytes, {len(data) / n:.2f} bytes/image "
                f"(input {original:,} bytes)")
    if ui.warned:
        raise typer.Exit(EXIT_WARNING)


def _archive_form(header, fmt, n):
    from .container import SOURCE_FORMS
    if fmt:
        if fmt not in ("png", "idx", "npy"):
            fail(f"--format {fmt!r} must be png, idx or npy")
        return fmt
    form = SOURCE_FORMS[header.source_form]
    return "png" if form == "images" else form


def _encode_png(img):
    from PIL import Image
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


@app.command()
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
        arc, images = _decode_file(archive, advance)
    h = arc.header
    form = _archive_form(h, fmt, len(images))
    stem = "stdin" if archive == "-" else Path(archive).name.removesuffix(".aez")
    base = Path(archive).parent if archive != "-" else Path(".")
    if output == "-" or (archive == "-" and output is None):
        output = "-"
    elif output is None:
        output = base / (stem if form == "png" else f"{stem}.{form}")
    write_images(ui, images, arc.names, form, output, f"{stem}.{form}", force)


def write_images(ui, images, names, form, output, file_name, force=False):
    """Write images as `extract` does: *form* png makes a folder of PNGs under their
    *names* (or, for a single image and an output ending in .png, that one file); idx or npy make one file (named *file_name* inside *output* when that is a
    folder); *output* '-' writes one PNG, or the array file, to stdout."""
    from .outputs import output_names, write_bytes_atomic, write_tree

    if str(output) == "-":
        if form == "png":
            if len(images) != 1:
                fail("more than one image: use --format npy or idx to write to stdout")
            payload = _encode_png(images[0])
        else:
            payload = _array_bytes(images, form)
        write_bytes_atomic("-", payload)
        return
    target = Path(output)
    if form == "png" and len(images) == 1 and target.suffix.lower() == ".png" and not target.is_dir():
        write_bytes_atomic(target, _encode_png(images[0]), force=force)  # one image, named by the user
        ui.info(f"1 image -> {target}")
        return
    if form == "png":
        renamed = []
        rels = output_names(names or [f"{i:05d}" for i in range(len(images))], ".png", renamed)
        for stored, written in renamed:
            ui.info(f"{stored}: written as {written} (another name already maps to the same file)")
        write_tree(target, {rel: _encode_png(img) for rel, img in zip(rels, images)}, force=force)
        ui.detail("\n".join(str(target / r) for r in rels))
        ui.info(f"{len(images)} images -> {target}/")
    else:
        if target.is_dir():
            target = target / file_name
        write_bytes_atomic(target, _array_bytes(images, form), force=force)
        ui.info(f"{len(images)} images -> {target}")


def _array_bytes(images, form):
    import numpy as np
    from .idx import write_idx
    if form == "idx":
        return write_idx(images)
    buf = io.BytesIO()
    np.save(buf, images, allow_pickle=False)
    return buf.getvalue()


@app.command()
def info(
    archives: List[str] = typer.Argument(..., help=".aez files ('-' for stdin)."),
    verbose: bool = typer.Option(False, "--verbose", "-v", help="List every image with its name and PSNR."),
):
    """Show what an archive holds, like gzip -l."""
    import numpy as np
    from .container import PSNR_EXACT, PSNR_UNIT, SOURCE_FORMS, unpack
    from .zoo import measured_point

    typer.echo(f"{'images':>8} {'original':>12} {'compressed':>11} {'ratio':>7} {'B/image':>8}  "
               f"{'quality':>7}  model / name")
    for path in archives:
        data = _read_input_bytes(path)
        try:
            arc = unpack(data)
        except AezError as e:
            raise _named(path, e) from None
        h = arc.header
        original = h.count * h.height * h.width
        ratio = original / len(data)
        typer.echo(f"{h.count:>8} {original:>12,} {len(data):>11,} {ratio:>6.1f}x {len(data) / h.count:>8.2f}  "
                   f"{h.quality or 'custom':>7}  {h.model_id}  {path}")
        if verbose:
            typer.echo(f"  format v{h.version}, source {SOURCE_FORMS[h.source_form]}, {h.latent_dim} codes x "
                       f"{h.sample_size} byte(s), {len(arc.raw_index)} image(s) stored losslessly")
            if h.quality:
                name, frac, row = measured_point(h.quality)
                if row and name == h.model_name:
                    typer.echo(f"  quality {h.quality} = {name} at step x{frac:g}: on the MNIST test set "
                               f"{row['bytes_per_image']:.2f} B/image, {row['psnr']:.2f} dB (aezip models)")
            if arc.psnr is not None:
                lossy = arc.psnr[arc.psnr != PSNR_EXACT].astype(float) * PSNR_UNIT
                if len(lossy):
                    typer.echo(f"  PSNR (lower bound per image): min {lossy.min():.1f} dB, median "
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
                typer.echo(f"  {i:>6}  {score:>12}  {name}")


@app.command("test")
def test_cmd(
    archives: List[str] = typer.Argument(..., help=".aez files to check ('-' for stdin)."),
    quiet: bool = typer.Option(False, "--quiet", "-q"),
    verbose: bool = typer.Option(False, "--verbose", "-v"),
):
    """Check archives' integrity (checksum, structure, model present, decodes), like gzip -t."""
    bad = 0
    for path in archives:
        try:
            arc, images = _decode_file(path)
        except AezError as e:
            bad += 1
            typer.echo(f"aezip: error: {e}", err=True)
            continue
        if verbose and not quiet:
            typer.echo(f"{path}: OK ({arc.header.count} images)", err=True)
    if bad:
        raise typer.Exit(EXIT_ERROR)


@app.command()
def models():
    """List the installed models, their ids and measured quality."""
    from .zoo import DEFAULT_QUALITY, LADDER, cards, measured_point

    cs = cards()
    typer.echo(f"{'model':<14} {'task':<12} {'id':<34} test PSNR (float code)")
    for name, c in cs.items():
        m = c.get("measured", {})
        p = m.get("test_psnr_float_code", m.get("test_psnr", m.get("test_psnr_clean_input")))
        typer.echo(f"{name:<14} {c.get('task', 'reconstruct'):<12} {c['model_id']:<34} "
                   + (f"{p:.2f} dB" if p is not None else "-"))
    typer.echo("")
    typer.echo("quality  model              step   bytes/image   PSNR (MNIST test set, measured)")
    for q in sorted(LADDER):
        name, frac, row = measured_point(q)
        got = f"{row['bytes_per_image']:>11.2f}   {row['psnr']:.2f} dB" if row else f"{'-':>11}   -"
        mark = "  (default)" if q == DEFAULT_QUALITY else ""
        typer.echo(f"{q:>7}  {name:<14} {frac:>8.4f}   {got}{mark}")


_LOADED = set()   # plugin modules already registered: cli.run may be called many times


def _load_plugins():
    import importlib
    for mod in PLUGINS:
        if mod in _LOADED:
            continue
        _LOADED.add(mod)
        try:
            m = importlib.import_module(mod)
        except ModuleNotFoundError as e:
            if e.name == mod:
                continue
            raise
        m.register(app)


def run(argv=None):
    """Entry point: run the app, turning every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):  # answer before importing numpy and the plugins
        typer.echo(f"aezip {__version__}")
        return EXIT_OK
    _load_plugins()
    try:
        # standalone_mode=False: click returns a command's exit code instead of raising SystemExit
        rc = app(args=argv, standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into a silent exit code 130
            typer.echo("aezip: interrupted", err=True)
        return rc if isinstance(rc, int) else EXIT_OK
    except typer.Exit as e:
        return e.exit_code
    except AezError as e:
        typer.echo(f"aezip: error: {e}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        typer.echo("aezip: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except typer.Abort:
        typer.echo("aezip: interrupted", err=True)
        return 130
    except _ClickException as e:  # usage errors: one line, like every other error
        hint = f" (see 'aezip {e.ctx.info_name} --help')" if getattr(e, "ctx", None) and e.ctx.parent else ""
        typer.echo(f"aezip: error: {e.format_message()}{hint}", err=True)
        return EXIT_ERROR  # not click's 2: here 2 means "done, with warnings"
    except Exception as e:  # the unexpected: still one line, never a traceback
        typer.echo(f"aezip: error: internal error: {type(e).__name__}: {e}", err=True)
        return EXIT_ERROR


def entry():
    sys.exit(run())
