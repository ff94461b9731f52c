"""Writing results safely: temporary names, renames, no overwrite without force.

Every output is first written under a temporary name in the destination's
folder and renamed into place only when complete, so a failure or Ctrl-C
leaves the previous state as it was.
"""

import gzip
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path, PurePosixPath


from .errors import AezError, OutputExists, UnsafeName
from .names import MAX_COMPONENT, check_name, name_key, printable

def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


__all__ = ["write_bytes_atomic", "write_atomic", "safe_relative", "write_tree", "output_names"]


def write_bytes_atomic(path, data, force=False):
    """Write *data* to *path* ('-' for stdout) via a temporary file and a rename."""
    write_atomic(path, [data], force)


def write_atomic(path, pieces, force=False, gzipped=False):
    """Write the byte strings *pieces* (any iterable, consumed once) one after another to
    *path* ('-' for stdout) via a temporary file and a rename; with *gzipped*, through gzip
    (level 9, no time stamp or name, so the bytes are reproducible)."""
    if str(path) == "-":
        out = sys.stdout.buffer
        sink = gzip.GzipFile(filename="", mode="wb", fileobj=out, compresslevel=9, mtime=0) if gzipped else out
        for piece in pieces:
            sink.write(piece)
        if gzipped:
            sink.close()
        out.flush()
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
            sink = gzip.GzipFile(filename="", mode="wb", fileobj=f, compresslevel=9, mtime=0) if gzipped else f
            for piece in pieces:
                sink.write(piece)
            if gzipped:
                sink.close()
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException as e:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(e, OSError) and not isinstance(e, AezError):
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


def output_names(names, suffix, renamed=None):
    """Map stored names (which passed :func:`aezip.names.check_names`) to output file names
    ending in *suffix* (``.png``), none of which lands on another's file or folder under
    :func:`aezip.names.name_key` (NFC + case folding).

    The rule: a name that already ends in *suffix* keeps it exactly (``a.png`` is written as
    ``a.png``); any other has its extension replaced (``a.gif`` -> ``a.png``), or, when that
    file is taken by another name, gets a number (``a~2.png``, ``a~3.png``, ...).  Each
    renamed name is appended to *renamed* as (stored name, output name) so the caller can
    say so.

    Returns an :class:`OutputNames`: a sequence that makes each PurePosixPath as it is
    iterated, holding 8 bytes per name and per distinct folder (hashes of their keys), not
    a path object each, so a million names are mapped in bounded memory (issue 14).
    """
    return OutputNames(names, suffix, renamed)


class OutputNames(Sequence):
    """The output names of :func:`output_names`, made one at a time (see there)."""

    def __init__(self, names, suffix, renamed=None):
        import numpy as np   # not at import: `aezip --version` answers before numpy loads
        self.names, self.suffix = names, suffix
        parts = []
        for lo in range(0, len(names), 65536):
            hashes = []
            for n in names[lo:lo + 65536]:
                k = name_key(n)
                if k.endswith(suffix):
                    hashes.append(hash(k))
                cut = k.find("/")
                while cut > 0:          # its folders
                    hashes.append(hash(k[:cut]))
                    cut = k.find("/", cut + 1)
            parts.append(np.unique(np.array(hashes, np.int64)))
            if len(parts) > 8:
                parts = [np.unique(np.concatenate(parts))]
        self._taken = np.unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        # the names each one would get without a number: when none is taken and no two are
        # alike (the usual case), no name needs a number and none need be remembered
        first = np.fromiter((hash(name_key(self._first_choice(PurePosixPath(n)))) for n in names
                             if not name_key(n).endswith(suffix)), np.int64)
        self._plain = (len(np.unique(first)) == len(first)
                       and not np.isin(first, self._taken).any())
        del first
        self._count = 0
        for _ in self._walk(renamed):   # once, to report the renamed names
            self._count += 1

    def _is_taken(self, key, added):
        import numpy as np
        h = hash(key)
        at = np.searchsorted(self._taken, h)
        return h in added or (at < len(self._taken) and self._taken[at] == h)

    def _first_choice(self, p):
        return str(p.with_name(_fit(p.stem if p.suffix else p.name, self.suffix)))

    def _walk(self, renamed=None):
        added = set()   # hashes of the keys given to names that did not end in the suffix
        for n in self.names:
            k = name_key(n)
            p = PurePosixPath(n)
            if k.endswith(self.suffix):
                yield p
                continue
            stem = p.stem if p.suffix else p.name
            q = p.with_name(_fit(stem, self.suffix))
            number = 2
            while not self._plain and self._is_taken(name_key(str(q)), added):
                q = p.with_name(_fit(stem, f"~{number}{self.suffix}"))
                number += 1
            reason = check_name(str(q))
            if reason:  # pragma: no cover - a valid name always maps to a valid one
                raise UnsafeName(f"archive name {printable(n)} becomes {printable(str(q))}, which {reason}")
            if not self._plain:
                added.add(hash(name_key(str(q))))
            if renamed is not None and q.stem != stem:
                renamed.append((n, str(q)))
            yield q

    def __len__(self):
        return self._count

    def __iter__(self):
        return self._walk()

    def __getitem__(self, i):
        if isinstance(i, slice):
            return list(self)[i]
        if i < 0:
            i += len(self)
        for j, q in enumerate(self):
            if j == i:
                return q
        raise IndexError(i)


def _fit(stem, tail):
    """stem + tail, the stem cut short so that the file name fits in MAX_COMPONENT UTF-8 bytes."""
    while len((stem + tail).encode("utf-8")) > MAX_COMPONENT and len(stem) > 1:
        stem = stem[:-1]
    return stem + tail


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


def write_tree(target, rels, contents, force=False):
    """Write files under folder *target*, all or nothing: *rels* lists their relative
    PurePosixPaths and *contents* (any iterable, consumed once, in the same order) their bytes.

    Every name must have passed :func:`safe_relative` (see :func:`output_names`).
    A new folder is built whole under a temporary name and renamed into place.
    Into an existing folder, every destination is checked first (exists? would a
    symlink lead outside?), files are staged in a temporary folder inside it and
    then renamed one by one; if that is interrupted (an error, Ctrl-C, SIGTERM), the files
    already moved are put back, so the folder is as it was.  Each file is written to the
    stage as *contents* yields it, so only one file's bytes are held at a time.
    """
    target = Path(target)
    rels = rels if isinstance(rels, Sequence) else list(rels)   # iterated more than once
    for rel in rels:
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
        _check_destinations(target, rels, force)
    try:
        stage = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=parent))
    except OSError as e:
        raise AezError(f"{target}: cannot write in {parent} ({e.strerror})") from None
    backup = None
    try:
        os.chmod(stage, 0o777 & ~_umask())
        written = 0
        for rel, data in zip(rels, contents):
            p = stage / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
            written += 1
        if written != len(rels):
            raise AezError(f"{target}: {written} of {len(rels)} files made; nothing was changed")
        if fresh:
            try:
                os.rename(stage, target)
            except OSError:
                raise OutputExists(f"{target}: appeared while writing; left as it is") from None
            return
        backup = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".old", dir=target))
        _move_in(target, stage, backup, rels)
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
