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

from .errors import AezError

def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["OutputExists", "UnsafeName", "write_bytes_atomic", "safe_relative", "write_tree",
           "output_names"]


class OutputExists(AezError, FileExistsError):
    """The output exists and overwriting was not asked for."""


class UnsafeName(AezError, ValueError):
    """An archive holds a name that would write outside the output folder."""


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
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
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


def output_names(names, suffix):
    """Map stored names to output file names with *suffix*, checking safety and duplicates."""
    out, seen = [], set()
    for n in names:
        p = safe_relative(n)
        q = p.with_suffix(suffix) if p.suffix else p.with_name(p.name + suffix)
        key = str(q).casefold()
        if key in seen:
            q = p.with_name(p.name + suffix)
            key = str(q).casefold()
        if key in seen:
            raise UnsafeName(f"archive holds the name {n!r} twice")
        seen.add(key)
        out.append(q)
    # a name may not also be a folder of another name
    folders = {str(parent).casefold() for q in out for parent in q.parents if str(parent) != "."}
    clash = next((q for q in out if str(q).casefold() in folders), None)
    if clash is not None:
        raise UnsafeName(f"archive name {str(clash)!r} is both a file and a folder")
    return out


def write_tree(target, files, force=False):
    """Write {relative PurePosixPath: bytes} under folder *target*, all or nothing.

    A new folder is built whole under a temporary name and renamed into place.
    Into an existing folder, every destination is checked first (exists? would a
    symlink lead outside?), files are staged in a temporary folder inside it,
    and then renamed one by one.
    """
    target = Path(target)
    fresh = not target.exists()
    parent = target.parent if fresh else target
    if fresh and not parent.is_dir():
        raise AezError(f"{target}: folder {parent} does not exist")
    if not fresh:
        if not target.is_dir():
            raise OutputExists(f"{target}: exists and is not a folder")
        root = target.resolve()
        for rel in files:
            dest = target / rel
            if (dest.exists() or dest.is_symlink()) and not force:
                raise OutputExists(f"{dest}: already exists (use -f to overwrite)")
            if dest.is_symlink() or dest.is_dir():
                raise OutputExists(f"{dest}: is a symlink or a folder; refusing to replace it")
            real = dest.parent.resolve()
            if real != root and root not in real.parents:
                raise UnsafeName(f"{dest}: its folder leads outside {target} (symlink)")
    stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    try:
        os.chmod(stage, 0o777 & ~_umask())
        for rel, data in files.items():
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        if fresh:
            os.rename(stage, target)
            return
        for rel in files:
            dest = target / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            os.replace(stage / rel, dest)
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
