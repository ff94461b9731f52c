"""The commands' shared input and output: reading files or stdin into images or archives,
and writing images as PNG folders or IDX/.npy files, whole or not at all."""

import io
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from .. import archive, container
from ..codec import AezDecompressor
from ..errors import AezError, OutputExists
from ..idx import write_idx
from ..inputs import gather, read_stdin_images
from ..outputs import output_names, write_bytes_atomic, write_tree
from ._ui import fail

__all__ = ["SHOW_SKIPPED", "DECODER", "read_input_bytes", "read_stdin", "named", "unpack_file", "decode_file",
           "read_inputs", "report_skipped", "array_bytes",
           "refuse_existing", "write_images", "encode_png"]

SHOW_SKIPPED = 10   # skipped input files listed one by one; the rest are counted
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


def decode_file(path, progress=None, data=None):
    """Read (unless *data* is given) and decode one .aez file: (archive, images); errors name the file."""
    data = read_input_bytes(path) if data is None else data
    try:
        return DECODER.decompress_archive(data, progress)
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


def read_inputs(ui, paths, strict, verbose=False, exact_shape=None, action="compressed", has_verbose=True):
    """Images from CLI *paths* or '-' (stdin), as compress, denoise, upscale and bench read them:
    (images, names or None, number preprocessed, source form, input bytes).  Skipped files
    are reported (the first SHOW_SKIPPED unless *verbose*), and with *strict* are an error."""
    if paths == ["-"]:
        raw = read_stdin()
        got = read_stdin_images(raw, exact_shape)
        return got.stack(), got.names, got.preprocessed, got.source_form, len(raw)
    if "-" in paths:
        fail("'-' (stdin) cannot be mixed with other inputs")
    with ui.task("reading inputs") as advance:
        got = gather(paths, progress=advance, exact_shape=exact_shape)
    report_skipped(ui, got.skipped, verbose, got.count, action, has_verbose)
    if got.skipped and strict:
        fail(f"{len(got.skipped)} input file(s) skipped and --strict is set")
    return got.stack(), got.names, got.preprocessed, got.source_form, got.original_bytes


def refuse_existing(output, force):
    """Fail before any work when *output* (not '-') exists and -f was not given."""
    if output != "-" and (Path(output).exists() or Path(output).is_symlink()) and not force:
        raise OutputExists(f"{output}: already exists (use -f to overwrite)")


def encode_png(img):
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG", optimize=False)
    return buf.getvalue()


def array_bytes(images, form):
    """The images as one IDX or .npy file."""
    if form == "idx":
        return write_idx(images)
    buf = io.BytesIO()
    np.save(buf, images, allow_pickle=False)
    return buf.getvalue()


def write_images(ui, images, names, form, output, file_name, force=False):
    """Write images as `extract` does: *form* png makes a folder of PNGs under their
    *names* (or, for a single image and an output ending in .png, that one file); idx or
    npy make one file (named *file_name* inside *output* when that is a folder); *output*
    '-' writes one PNG, or the array file, to stdout."""
    if str(output) == "-":
        if form == "png":
            if len(images) != 1:
                fail("more than one image: use --format npy or idx to write to stdout")
            payload = encode_png(images[0])
        else:
            payload = array_bytes(images, form)
        write_bytes_atomic("-", payload)
        return
    target = Path(output)
    if form == "png" and len(images) == 1 and target.suffix.lower() == ".png" and not target.is_dir():
        write_bytes_atomic(target, encode_png(images[0]), force=force)  # one image, named by the user
        ui.info(f"1 image -> {target}")
        return
    if form == "png":
        renamed = []
        rels = output_names(names or [f"{i:05d}" for i in range(len(images))], ".png", renamed)
        for stored, written in renamed:
            ui.info(f"{stored}: written as {written} (another name already maps to the same file)")
        write_tree(target, {rel: encode_png(img) for rel, img in zip(rels, images)}, force=force)
        ui.detail("\n".join(str(target / r) for r in rels))
        ui.info(f"{len(images)} images -> {target}/")
    else:
        if target.is_dir():
            target = target / file_name
        write_bytes_atomic(target, array_bytes(images, form), force=force)
        ui.info(f"{len(images)} images -> {target}")
