"""The commands' shared input and output: reading files or stdin into images or archives,
decoding archives chunk by chunk, and writing images as PNG folders or IDX/.npy files,
whole or not at all."""

import io
import struct
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

from .. import archive, container
from ..codec import AezDecompressor
from ..errors import AezError, BadInput, OutputExists
from ..idx import UBYTE
from ..inputs import gather, read_stdin_images
from ..names import printable
from ..outputs import output_names, write_atomic, write_tree
from ._ui import fail

__all__ = ["SHOW_SKIPPED", "CHUNK", "DECODER", "read_input_bytes", "read_stdin", "named", "unpack_file",
           "open_archive", "decoded_chunks", "read_inputs", "report_skipped", "refuse_existing", "refuse_terminal",
           "refuse_input_as_output", "write_images", "write_chunks", "encode_png", "ARRAY_SUFFIXES",
           "form_of_output"]

SHOW_SKIPPED = 10   # skipped input files listed one by one; the rest are counted
CHUNK = 1024        # images decoded, written or checked at a time (a q9 chunk's decoder activations: ~10 MB)
# One decompressor for the process: it keeps the models it has loaded.
DECODER = AezDecompressor()


def read_input_bytes(path):
    """The bytes of the file *path*, or of stdin for '-'; errors name the file."""
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


def read_stdin():
    """All of stdin, or a one-line error when it is empty."""
    raw = read_input_bytes("-")
    if not raw:
        fail("<stdin>: no input")
    return raw


def named(path, error):
    """The same AezError with the file's name in front of its message."""
    name = "<stdin>" if str(path) == "-" else str(path)
    msg = str(error)
    if msg.startswith(name):
        return error
    return type(error)(f"{name}: {msg}")


def unpack_file(path, data):
    """Parse the .aez bytes *data* read from *path*; errors name the file."""
    try:
        return archive.read(data)
    except AezError as e:
        raise named(path, e) from None


def open_archive(path, data=None):
    """The parsed archive at *path* (or of *data*), its names checked exactly as `extract`
    checks them (:func:`aezip.names.check_names`), so `test` passes only what `extract` writes."""
    data = read_input_bytes(path) if data is None else data
    return unpack_file(path, data)   # aezip.archive.read refuses names that break §5.2


def decoded_chunks(path, arc, progress=None, chunk=CHUNK):
    """Yield (start, stop, images) over the archive *arc* read from *path*: images[start:stop]
    decoded.  The one place extract, test and show get their pixels; errors name the file."""
    try:
        yield from DECODER.iter_decode(arc, chunk, progress)   # memory bounded by the chunk
    except AezError as e:
        raise named(path, e) from None


def report_skipped(ui, skipped, verbose, count, action, has_verbose=True):
    """Warn about input files left out: the first SHOW_SKIPPED (all with *verbose*), then a count;
    *has_verbose* says whether the command has a -v that would list them all."""
    for path, reason in skipped[:SHOW_SKIPPED if not verbose else None]:
        ui.warn(f"skipped {reason}" if str(path) in reason else f"skipped {path}: {reason}")
    if len(skipped) > SHOW_SKIPPED and not verbose:
        ui.warn(f"... and {len(skipped) - SHOW_SKIPPED} more skipped file(s)" + (" (-v lists all)" if has_verbose else ""))
    if skipped:
        ui.warn(f"{len(skipped)} file(s) skipped, {count} image(s) {action}")


def read_inputs(ui, paths, strict, verbose=False, exact_shape=None, action="compressed", has_verbose=True,
                keep_pixels=None):
    """Images from CLI *paths* or '-' (stdin), as compress, denoise, upscale and bench read them:
    (images, names or None, number preprocessed, source form, input bytes).  Skipped files
    are reported (the first SHOW_SKIPPED unless *verbose*), and with *strict* are an error."""
    if paths == ["-"]:
        raw = read_stdin()
        got = read_stdin_images(raw, exact_shape, keep_pixels)
        return got.stack(), got.names, got.preprocessed, got.source_form, len(raw)
    if "-" in paths:
        fail("'-' (stdin) cannot be mixed with other inputs")
    with ui.task("reading inputs") as advance:
        try:
            got = gather(paths, progress=advance, exact_shape=exact_shape, keep_pixels=keep_pixels)
        except BadInput as e:
            if verbose and getattr(e, "skipped", None):   # -v: every file left out, and why
                for path, reason in e.skipped:
                    ui.info(f"aezip: skipped {reason}" if str(path) in reason else f"aezip: skipped {path}: {reason}")
            raise
    report_skipped(ui, got.skipped, verbose, got.count, action, has_verbose)
    if got.skipped and strict:
        fail(f"{len(got.skipped)} input file(s) skipped and --strict is set")
    return got.stack(), got.names, got.preprocessed, got.source_form, got.original_bytes


def refuse_existing(output, force):
    """Fail before any work when *output* (not '-') exists and -f was not given."""
    if output != "-" and (Path(output).exists() or Path(output).is_symlink()) and not force:
        raise OutputExists(f"{output}: already exists (use -f to overwrite)")


def refuse_terminal(output, force, what="compressed data"):
    """Fail before any work when *output* is '-' and stdout is a terminal, unless -f (gzip's rule)."""
    if str(output) == "-" and not force and sys.stdout.isatty():
        fail(f"{what} not written to a terminal (redirect stdout, or use -f to force)")


def refuse_input_as_output(output, paths):
    """Fail before any work when the output file is one of the input files named (even with
    -f: the input would be replaced by a lossy archive of itself)."""
    if str(output) == "-" or not Path(output).exists():
        return
    for p in paths:
        try:
            same = p != "-" and Path(output).samefile(p)
        except OSError:
            continue
        if same:
            fail(f"{output}: is also an input; refusing to replace it with its own archive")


def encode_png(img):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


# What an -o file name's ending says about the format wanted: (suffix, form, gzipped)
ARRAY_SUFFIXES = ((".idx.gz", "idx", True), (".gz", "idx", True), (".idx", "idx", False),
                  (".npy", "npy", False), ("-ubyte", "idx", False))


def form_of_output(output):
    """(form, gzipped) that the name *output* asks for (``x.npy``, ``x.idx``, ``x.idx.gz``,
    ``x-ubyte.gz``), or (None, False) for any other name (a folder of PNGs, or one .png)."""
    name = Path(str(output)).name.lower()
    for suffix, form, gz in ARRAY_SUFFIXES:
        if name.endswith(suffix) and len(name) > len(suffix):
            return form, gz
    return None, False


def _array_pieces(chunks, shape, form):
    """The bytes of one IDX or .npy file of the images *chunks* yields, header first."""
    if form == "idx":
        yield struct.pack(">HBB", 0, UBYTE, 3) + struct.pack(">3I", *shape)
    else:
        buf = io.BytesIO()
        np.lib.format.write_array_header_1_0(buf, {"descr": "|u1", "fortran_order": False, "shape": shape})
        yield buf.getvalue()
    for _, _, images in chunks:
        yield np.ascontiguousarray(images, np.uint8).tobytes()


class _Numbered(Sequence):
    """The names 00000, 00001, ... of an archive without names, made as they are asked for."""

    def __init__(self, count):
        self.count = count

    def __len__(self):
        return self.count

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.count))]
        if not 0 <= i < self.count:
            raise IndexError(i)
        return f"{i:05d}"


def write_images(ui, images, names, form, output, file_name, force=False, gzipped=None):
    """Write the image stack *images* as :func:`write_chunks` does."""
    write_chunks(ui, [(0, len(images), images)], len(images), images.shape[1:], names, form, output,
                 file_name, force, gzipped)


def write_chunks(ui, chunks, count, shape, names, form, output, file_name, force=False, gzipped=None):
    """Write *count* images of *shape* (h, w), which *chunks* yields as (start, stop, images),
    as `extract` does: *form* png makes a folder of PNGs under their *names* (or, for a
    single image and an output ending in .png, that one file); idx or npy make one file
    (named *file_name* inside *output* when that is a folder; gzip'd when *gzipped*, which
    by default follows a .gz ending); *output* '-' writes one PNG, or the array file, to
    stdout.  PNGs are written as the chunks come, so only one chunk is held at a time."""
    shape = (count,) + tuple(shape)
    if str(output) == "-":
        if form == "png":
            if count != 1:
                fail("more than one image: use --format npy or idx to write to stdout")
            write_atomic("-", [encode_png(images[0]) for _, _, images in chunks])
        else:
            write_atomic("-", _array_pieces(chunks, shape, form), gzipped=bool(gzipped))
        return
    target = Path(output)
    if form == "png" and count == 1 and target.suffix.lower() == ".png" and not target.is_dir():
        write_atomic(target, (encode_png(images[0]) for _, _, images in chunks), force=force)
        ui.info(f"1 image -> {target}")  # one image, named by the user
        return
    if form == "png":
        renamed = []
        rels = output_names(names or _Numbered(count), ".png", renamed)
        for stored, written in renamed:
            ui.info(f"{printable(stored)}: written as {printable(written)} (its own name, with the extension "
                    "made .png, is taken: a name already ending in .png keeps it)")
        pngs = (encode_png(img) for _, _, images in chunks for img in images)
        write_tree(target, rels, pngs, force=force)
        for r in rels if ui.verbose else ():   # one line each, never all of them at once
            ui.detail(str(target / r))
        ui.info(f"{count} images -> {target}/")
    else:
        if target.is_dir():
            target = target / file_name
        if gzipped is None:
            gzipped = target.name.lower().endswith(".gz")
        write_atomic(target, _array_pieces(chunks, shape, form), force=force, gzipped=gzipped)
        ui.info(f"{count} images -> {target}")
