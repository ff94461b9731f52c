"""``aezip bench``: aezip against gzip, xz, zstd, PNG, JPEG, WebP, AVIF and PCA on the same images."""

import io
import json
import os
import shlex
import time
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from .. import bench as B
from ..bench import CODECS, DEFAULT_OOD, DEFAULT_SUBSET, SLOW_CODECS
from ..errors import AezError, BadData, OutputExists
from ..idx import find_mnist, load_mnist, read_idx
from ..outputs import write_bytes_atomic
from ..container import SOURCE_IDX
from ._io import read_inputs
from .archive import storable_names
from ._ui import Ui

__all__ = ["bench", "MNIST_ENV"]

MNIST_ENV = "AEZIP_MNIST_DIR"


def _check_output(path, force, suffixes=None):
    """Fail before any work if an output cannot be written."""
    p = Path(path)
    if suffixes and p.suffix.lower() not in suffixes:
        raise AezError(f"{p}: expected a {' or '.join(suffixes)} file name")
    if (p.exists() or p.is_symlink()) and not force:
        raise OutputExists(f"{p}: already exists (use -f to overwrite)")
    if p.is_dir():
        raise OutputExists(f"{p}: is a folder, not a file")
    if not p.parent.is_dir():
        raise AezError(f"{p}: folder {p.parent} does not exist")


def _images(paths, ui, strict, fit_dir):
    """(images, source in words, stored names or None, source form) from the command-line
    inputs, read as `compress` reads them, with the names `compress` would store."""
    if not paths:
        if not fit_dir:
            raise AezError(f"no input: name images, folders, IDX or .npy files (or set {MNIST_ENV} "
                           "or --fit-data to bench the MNIST test set)")
        path = find_mnist(fit_dir, "test")[0]
        return read_idx(path), str(path), None, SOURCE_IDX
    images, names, pre, form, _ = read_inputs(ui, paths, strict, action="benched", has_verbose=False)
    if pre:
        ui.info(f"{pre} image(s) were not 28x28 white-on-black and got MNIST preprocessing")
    if names:
        names = storable_names(Ui(quiet=True), names, False)   # what compress stores (it says so)
    return images, "<stdin>" if paths == ["-"] else " ".join(paths), names, form


def _pca_basis(fit_data, images, ui):
    """Fit PCA on MNIST's training set when we have it, else on the input (and say so)."""
    folder, origin = fit_data, "--fit-data"
    if folder is None and os.environ.get(MNIST_ENV):
        folder, origin = os.environ[MNIST_ENV], MNIST_ENV
    if folder is not None:
        try:
            train, _ = load_mnist(folder, "train")
        except BadData as e:
            if origin == "--fit-data":
                raise
            ui.warn(f"{MNIST_ENV}: {e}; fitting PCA on the input instead")
        else:
            return B.fit_pca(train, f"the MNIST training set ({len(train):,} images, {origin} {folder})")
    return B.fit_pca(images, f"the input itself ({len(images):,} images; no MNIST training set given with "
                             f"--fit-data or {MNIST_ENV}), which flatters PCA")


def _command(paths, opts):
    parts = ["aezip", "bench", *paths]
    for flag, value in opts:
        if value is True:
            parts.append(flag)
        elif value is not None and value is not False:
            parts += [flag, str(value)]
    return shlex.join(parts)


def _measure(images, source, fit_data, names, subset, nondigits, ui, quiet, stored=(None, 0)):
    """(report on *images*, {non-digit kind: report}), with a progress bar on a terminal."""
    console = Console(stderr=True)
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=quiet or not console.is_terminal) as bar:
        task = bar.add_task("fitting PCA", total=None)

        def ticker(stage):
            def tick(done, total, label):
                bar.update(task, completed=done, total=total, description=f"{stage}: {label}")
            return tick

        pca = _pca_basis(fit_data, images, ui) if names is None or "pca" in names else None
        report = B.run_bench(images, source=source, pca=pca, only=names, subset=subset, progress=ticker(source),
                             names=stored[0], source_form=stored[1])
        ood = {}
        if nondigits:
            for kind, imgs in B.nondigit_images(nondigits).items():
                ood[kind] = B.run_bench(imgs, source=f"{kind} (generated)", pca=pca, only=names,
                                        subset=subset, progress=ticker(kind))
    return report, ood


def _rendered(report, ood, command, seconds, json_out, markdown, plot_out):
    """[(path, bytes)] of the files asked for, all rendered before the first is written."""
    files = []
    if json_out:
        doc = B.to_json(report, ood, command, seconds)
        files.append((json_out, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode()))
    if markdown:
        files.append((markdown, B.to_markdown(report, ood, command, seconds).encode()))
    if plot_out:
        buf = io.BytesIO()
        B.plot(report, buf, ood)
        files.append((plot_out, buf.getvalue()))
    return files


def _print(report, ood, command, count, seconds):
    typer.echo(B.table(report))
    typer.echo("")
    typer.echo(f"Made by: {command}")
    for note in report.notes:
        typer.echo(f"skipped: {note}")
    typer.echo("")
    for line in B.bullets(B.summary_lines(report) + (B.ood_lines(report, ood) if ood else [])):
        typer.echo(line)
    typer.echo(f"\n{count:,} images, {len(report.rows)} rows, {seconds:.0f} s", err=True)


def bench(
    paths: Optional[List[str]] = typer.Argument(
        None, metavar="INPUT",
        help="Folders, image files, IDX files or .npy arrays ('-' for stdin), as for compress; "
             f"default: the MNIST test set in --fit-data / ${MNIST_ENV}."),
    json_out: Optional[str] = typer.Option(None, "--json", metavar="FILE", help="Write all rows as JSON."),
    markdown: Optional[str] = typer.Option(None, "--markdown", metavar="FILE",
                                           help="Write the tables and findings as markdown."),
    plot_out: Optional[str] = typer.Option(None, "--plot", metavar="FILE.png",
                                           help="Draw the rate-distortion plot "
                                                "(needs matplotlib: the plot extra)."),
    fit_data: Optional[str] = typer.Option(None, "--fit-data", metavar="DIR",
                                           help=f"MNIST folder whose training set fits PCA "
                                                f"(default ${MNIST_ENV}; else the input itself)."),
    subset: int = typer.Option(DEFAULT_SUBSET, "--subset", metavar="N",
                               help=f"Images the slow codecs ({', '.join(SLOW_CODECS)}) see, evenly spaced; "
                                    "0 for all."),
    only: Optional[str] = typer.Option(None, "--only", metavar="LIST",
                                       help=f"Comma-separated codecs to run: {', '.join(CODECS)}."),
    nondigits: int = typer.Option(DEFAULT_OOD, "--nondigits", metavar="N",
                                  help="Also bench N generated letters and N noise images (0: skip)."),
    strict: bool = typer.Option(False, "--strict", help="Treat any skipped input file as an error."),
    force: bool = typer.Option(False, "--force", "-f", help="Overwrite existing output files."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="Print nothing but errors."),
):
    """Measure aezip's quality levels side by side with lossless and lossy codecs and PCA."""
    started = time.perf_counter()
    ui = Ui(quiet, False)
    for flag, value in (("--subset", subset), ("--nondigits", nondigits)):
        if value < 0:
            raise AezError(f"{flag} {value}: must be 0 or more")
    for path, suffixes in ((json_out, None), (markdown, None), (plot_out, (".png",))):
        if path:
            _check_output(path, force, suffixes)
    if plot_out:
        B.check_plot_support()
    names = None
    if only is not None:
        names = [n.strip() for n in only.split(",") if n.strip()]
        B.plan(names, None)  # unknown names fail here, before any work
    if fit_data is not None:
        find_mnist(fit_data, "train")  # a bad --fit-data fails here, before any work
    images, source, stored_names, form = _images(paths, ui, strict, fit_data or os.environ.get(MNIST_ENV))
    report, ood = _measure(images, source, fit_data, names, subset, nondigits, ui, quiet, (stored_names, form))
    env_prefix = ""
    if fit_data is None and os.environ.get(MNIST_ENV):
        env_prefix = f"{MNIST_ENV}={shlex.quote(os.environ[MNIST_ENV])} "
    command = env_prefix + _command(paths or [], [
        ("--fit-data", fit_data), ("--subset", subset if subset != DEFAULT_SUBSET else None),
        ("--only", only), ("--nondigits", nondigits if nondigits != DEFAULT_OOD else None),
        ("--strict", strict), ("--json", json_out), ("--markdown", markdown), ("--plot", plot_out),
        ("-f", force)])
    seconds = time.perf_counter() - started
    for path, data in _rendered(report, ood, command, seconds, json_out, markdown, plot_out):
        write_bytes_atomic(path, data, force=force)
    if not quiet:
        _print(report, ood, command, len(images), seconds)
    ui.exit_warned()
