"""Writing results safely: temporary names, renames, no overwrite without force.

Every output is first written under a temporary name in the destination's
folder and renamed into place only when complete, so a failure or Ctrl-C
leaves the previous state as it was.
"""

import os
import shutil
import sys
import tempfile
from pathlib import Path, PurePosixPath

from .errors import AezError, OutputExists, UnsafeName

def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["write_bytes_atomic", "safe_relative", "sanitize_name",
           "write_tree", "output_names"]


def write_bytes_atomic(path, data, force=False):
    """Write *data* to *path* ('-' for stdout) via a temporary file and a rename."""
    if str(path) == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    path = Path(path)
    if (path.exists() or path.is_symlink()) and not force:
        raise OutputExists(f"{path}: already exists (use -f to overwrite)")
    if path.is_dir():
        raise OutputExists(f"{path}: is a folder, not a file")
    parent = path.parent
    if not parent.is_dir():
        raise AezError(f"{path}: folder {parent} does not exist")
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    except OSError as e:
        raise AezError(f"{path}: cannot write in {parent} ({e.strerror})") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise AezError(f"{path}: cannot write ({e.strerror or e}); nothing was changed") from None
        raise


def safe_relative(name):
    """Check that an archive name is a plain relative path; return it as a PurePosixPath."""
    if not name or "\x00" in name:
        raise UnsafeName(f"archive name {name!r} is empty or holds a NUL byte")
    if "\\" in name or (len(name) > 1 and name[1] == ":") or name.startswith("/"):
        raise UnsafeName(f"archive name {name!r} is absolute or has a drive letter or backslash")
    p = PurePosixPath(name)
    if any(part in ("..", ".", "") for part in name.split("/")):
        raise UnsafeName(f"archive name {name!r} has '..', '.' or empty components")
    if any(ord(c) < 32 for c in name):
        raise UnsafeName(f"archive name {name!r} holds control characters")
    return p


def sanitize_name(name):
    """A name that :func:`safe_relative` accepts, made from a real relative path: backslashes,
    control characters and a drive-letter colon become '_'.  (What a folder on a POSIX disk
    may hold but an archive reader must refuse.)"""
    parts = []
    for part in name.split("/"):
        part = "".join("_" if c == "\\" or ord(c) < 32 or c == "\x7f" else c for c in part)
        parts.append(part if part not in ("", ".", "..") else part.replace(".", "_") or "_")
    out = "/".join(parts)
    if len(out) > 1 and out[1] == ":":
        out = out[0] + "_" + out[2:]
    return out


def output_names(names, suffix, renamed=None):
    """Map stored names to output file names with *suffix*, checking safety and duplicates.

    A name stored twice is refused.  Names that would land on the same output file
    (``x.jpg`` and ``x.png`` both become PNGs; ``A.png`` and ``a.png`` are one file on
    macOS and Windows disks) are kept apart: the later one keeps its full name plus the
    suffix (``x.png.png``), or gets a number (``a~2.png``); each such change is appended to
    *renamed* as (stored name, output name) so the caller can say so.
    """
    out, seen, stored = [], set(), set()
    for n in names:
        p = safe_relative(n)
        if n in stored:
            raise UnsafeName(f"archive holds the name {n!r} twice")
        stored.add(n)
        q = p.with_suffix(suffix) if p.suffix else p.with_name(p.name + suffix)
        if str(q).casefold() in seen:
            q = p.with_name(p.name + suffix)
            k = 2
            while str(q).casefold() in seen:
                q = p.with_name(f"{p.stem}~{k}{suffix}")
                k += 1
            if renamed is not None:
                renamed.append((n, str(q)))
        seen.add(str(q).casefold())
        out.append(q)
    # a name may not also be a folder of another name
    folders = {str(parent).casefold() for q in out for parent in q.parents if str(parent) != "."}
    clash = next((q for q in out if str(q).casefold() in folders), None)
    if clash is not None:
        raise UnsafeName(f"archive name {str(clash)!r} is both a file and a folder")
    return out


def _check_destinations(target, files, force):
    """Refuse, before anything is written, any file of *files* that would land on an
    existing output (without *force*), replace a folder or a link, go through a
    file, or leave *target* through a symlinked folder."""
    root = target.resolve()
    for rel in files:
        dest = target / rel
        for up in reversed(rel.parents[:-1]):  # its folders, outermost first
            d = target / up
            if d.is_symlink() or (d.exists() and not d.is_dir()):
                real = d.resolve()
                if not d.is_dir():
                    raise OutputExists(f"{d}: exists and is not a folder (needed for {dest})")
                if real != root and root not in real.parents:
                    raise UnsafeName(f"{dest}: its folder {d} leads outside {target} (symlink)")
        if dest.is_symlink() or dest.is_dir():
            raise OutputExists(f"{dest}: is a symlink or a folder; refusing to replace it")
        if dest.exists() and not force:
            raise OutputExists(f"{dest}: already exists (use -f to overwrite)")
        real = dest.parent.resolve()
        if real != root and root not in real.parents:
            raise UnsafeName(f"{dest}: its folder leads outside {target} (symlink)")


def write_tree(target, files, force=False):
    """Write {relative PurePosixPath: bytes} under folder *target*, all or nothing.

    Every name must have passed :func:`safe_relative` (see :func:`output_names`).
    A new folder is built whole under a temporary name and renamed into place.
    Into an existing folder, every destination is checked first (exists? would a
    symlink lead outside?), files are staged in a temporary folder inside it and
    then renamed one by one; if that is interrupted (an error, Ctrl-C), the files
    already moved are put back, so the folder is as it was.
    """
    target = Path(target)
    for rel in files:
        safe_relative(str(rel))
    if target.is_symlink() and not target.exists():
        raise OutputExists(f"{target}: is a broken symbolic link; refusing to write through it")
    fresh = not target.exists()
    parent = target.parent if fresh else target
    if fresh and not parent.is_dir():
        raise AezError(f"{target}: folder {parent} does not exist")
    if not fresh:
        if not target.is_dir():
            raise OutputExists(f"{target}: exists and is not a folder")
        _check_destinations(target, files, force)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise AezError(f"{target}: cannot write in {parent} ({e.strerror})") from None
    backup = None
    try:
        os.chmod(stage, 0o777 & ~_umask())
        for rel, data in files.items():
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if fresh:
            try:
                os.rename(stage, target)
            except OSError:
                raise OutputExists(f"{target}: appeared while writing; left as it is") from None
            return
        backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target))
        _move_in(target, stage, backup, files)
    except OSError as e:
        if isinstance(e, AezError):
            raise
        raise AezError(f"{target}: cannot write ({e.strerror or e}); nothing was changed") from None
    finally:
        for tmp in (stage, backup):
            if tmp is not None and tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)


def _move_in(target, stage, backup, files):
    """Rename staged files into *target*; on any interruption undo what was done."""
    done, made = [], []   # (dest, saved old file or None); folders created
    try:
        for rel in files:
            dest = target / rel
            for up in reversed(rel.parents[:-1]):  # its folders, outermost first
                d = target / up
                if not d.is_dir():
                    d.mkdir()
                    made.append(d)
            old = None
            if dest.exists():
                old = backup / rel
                old.parent.mkdir(parents=True, exist_ok=True)
                done.append((dest, old))
                os.rename(dest, old)
            else:
                done.append((dest, None))
            os.replace(stage / rel, dest)
    except BaseException:
        for dest, old in reversed(done):
            if old is None:
                dest.unlink(missing_ok=True)
            elif old.exists():
                os.replace(old, dest)
        for d in reversed(made):
            try:
                d.rmdir()
            except OSError:
                pass
        raise
