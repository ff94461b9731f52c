"""The rules for image names in an archive (formats/aez.md §5.2), in one place, and the one
way to show a string from an archive on a terminal.

``check_name`` says what is wrong with one name; ``check_names`` refuses a list that would
not extract to the same files on every system (duplicates under NFC + case folding, a name
that is also a folder); ``unique_names`` makes a list that passes, for the writer;
``printable`` escapes what a terminal would act on.  ``compress``, ``test`` and ``extract``
all use these, so an archive ``test`` passes is one ``extract`` writes.
"""

import re
import unicodedata
from collections.abc import Sequence
from pathlib import PurePosixPath


from .errors import UnsafeName

__all__ = ["check_name", "check_names", "name_key", "unique_names", "sanitize_name", "printable",
           "NameList", "MAX_COMPONENT", "MAX_DEPTH"]

MAX_COMPONENT = 255   # UTF-8 bytes in one path component
MAX_DEPTH = 64        # components in one name
DEVICE_NAMES = frozenset(["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)]
                         + [f"LPT{i}" for i in range(1, 10)])
_SEPARATORS = ("\u2028", "\u2029")


def _hidden(c):
    """Characters a name may not hold: controls (Cc), format characters (Cf: bidi overrides,
    zero-width characters, soft hyphen, BOM) and the line/paragraph separators."""
    return unicodedata.category(c) in ("Cc", "Cf") or c in _SEPARATORS


_ASCII_HIDDEN = re.compile("[\x00-\x1f\x7f]")


def _first_hidden(name):
    """The first character of *name* that :func:`_hidden` refuses, or None (ASCII names, the
    common case, by one regular expression: a million names are checked in seconds)."""
    if name.isascii():
        m = _ASCII_HIDDEN.search(name)
        return m.group() if m else None
    return next((c for c in name if _hidden(c)), None)


def check_name(name):
    """None for a valid archive name, else a short reason (no name in it)."""
    if not name:
        return "is empty"
    c = _first_hidden(name)
    if c is not None:
        return f"holds the control or invisible character U+{ord(c):04X}"
    if unicodedata.normalize("NFC", name) != name:
        return "is not in Unicode normalization form NFC"
    if name.startswith("/") or "\\" in name or ":" in name:
        return "is absolute or holds a backslash or colon"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts):
        return "has an empty, '.' or '..' component"
    if len(parts) > MAX_DEPTH:
        return f"has {len(parts)} components (at most {MAX_DEPTH})"
    for part in parts:
        if len(part.encode("utf-8")) > MAX_COMPONENT:
            return f"has a component of {len(part.encode('utf-8'))} bytes (at most {MAX_COMPONENT})"
        if part[-1] in " .":
            return "has a component ending in a space or a dot"
        if part.split(".")[0].rstrip(" .").upper() in DEVICE_NAMES:
            return f"uses the reserved device name {part.split('.')[0]!r}"
    return None


def name_key(name):
    """How names are compared (§5.2): NFC, then Unicode case folding."""
    return unicodedata.normalize("NFC", name).casefold()


def check_names(names):
    """Raise UnsafeName for the first invalid name, else for a duplicate or a name that is also
    a folder of another.  Memory: 8 bytes a name (a hash of its key), whatever the names hold,
    so a million names are checked without a second copy of them (issue 14)."""
    import numpy as np   # not at import: `aezip --version` answers before numpy loads
    count = len(names)
    hashes = np.empty(count, np.int64)
    for i, n in enumerate(names):
        reason = check_name(n)
        if reason:
            raise UnsafeName(f"archive name {i} {printable(n)} {reason}")
        hashes[i] = hash(name_key(n))
    order = np.argsort(hashes, kind="stable")
    ordered = hashes[order]
    _refuse_duplicates(names, order, ordered)
    for lo in range(0, count, 4096):   # a folder of one name that another is (a.png, a.png/b.png)
        owner, want = [], []           # (name index, length of the folder prefix), its key's hash
        for k in range(lo, min(lo + 4096, count)):
            key = name_key(names[k])
            cut = key.find("/")
            while cut > 0:
                owner.append((k, cut))
                want.append(hash(key[:cut]))
                cut = key.find("/", cut + 1)
        if not want:
            continue
        want = np.array(want, np.int64)
        at = np.minimum(np.searchsorted(ordered, want), count - 1)
        for q in np.flatnonzero(ordered[at] == want):
            k, cut = owner[q]
            prefix, a = name_key(names[k])[:cut], int(at[q])
            while a < count and ordered[a] == want[q]:
                if name_key(names[int(order[a])]) == prefix:
                    raise UnsafeName(f"archive name {printable(names[int(order[a])])} is both a file and a folder")
                a += 1


def _refuse_duplicates(names, order, ordered):
    """The first name (by position) whose key an earlier name has, among equal hashes."""
    import numpy as np
    runs = np.flatnonzero(ordered[1:] == ordered[:-1])
    found = None   # (later, earlier)
    for k in runs:
        if k and ordered[k - 1] == ordered[k]:
            continue            # inside a run already looked at
        end = k + 1
        while end + 1 < len(ordered) and ordered[end + 1] == ordered[k]:
            end += 1
        members = sorted(int(i) for i in order[k:end + 1])
        for b in range(1, len(members)):
            for a in range(b):
                if name_key(names[members[a]]) == name_key(names[members[b]]):
                    if found is None or members[b] < found[0]:
                        found = (members[b], members[a])
                    break
    if found:
        later, earlier = names[found[0]], names[found[1]]
        raise UnsafeName(f"archive name {printable(later)} is held twice" if later == earlier else
                         f"archive names {printable(earlier)} and {printable(later)} are the same file on a "
                         "case-insensitive or normalizing disk")


class NameList(Sequence):
    """An archive's names, held as their UTF-8 bytes and two offsets each (16 bytes a name)
    rather than a Python string each: a million names cost what they hold (issue 14).
    Each name is decoded when asked for; compares equal to a list of the same names."""

    def __init__(self, blob, starts, ends):
        import numpy as np
        self._blob = blob
        self._starts = np.asarray(starts)   # uint32: a Names section is at most 64 MiB
        self._ends = np.asarray(ends)

    def __len__(self):
        return len(self._starts)

    def __getitem__(self, i):
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(len(self)))]
        if i < 0:
            i += len(self)
        if not 0 <= i < len(self):
            raise IndexError(f"name {i} of {len(self)}")
        return bytes(self._blob[int(self._starts[i]):int(self._ends[i])]).decode("utf-8")

    def __iter__(self):
        for lo in range(0, len(self), 65536):
            for s, e in zip(self._starts[lo:lo + 65536].tolist(), self._ends[lo:lo + 65536].tolist()):
                yield bytes(self._blob[s:e]).decode("utf-8")

    def __eq__(self, other):
        if not isinstance(other, (Sequence, NameList)) or isinstance(other, (str, bytes)):
            return NotImplemented
        return len(self) == len(other) and all(a == b for a, b in zip(self, other))

    __hash__ = None

    def __repr__(self):
        return f"NameList({len(self)} names)"


def sanitize_name(name):
    """A valid name made from a real relative path: hidden characters, backslashes and colons
    become '_', device names and trailing dots/spaces get a '_', long components are cut."""
    name = unicodedata.normalize("NFC", name)
    parts = []
    for part in name.split("/")[-MAX_DEPTH:]:
        part = "".join("_" if _hidden(c) or c in "\\:" else c for c in part)
        if part in ("", ".", ".."):
            part = part.replace(".", "_") or "_"
        if part[-1] in " .":
            part += "_"
        if part.split(".")[0].rstrip(" .").upper() in DEVICE_NAMES:
            part = "_" + part
        while len(part.encode("utf-8")) > MAX_COMPONENT:
            part = part[:-1]
        parts.append(part)
    return "/".join(parts)


def unique_names(names):
    """(names, renamed): *names* made valid and unique under :func:`name_key`, none also a
    folder of another; *renamed* lists (given, stored) for every name that changed."""
    out, renamed, taken = [], [], set()
    files = [sanitize_name(n) for n in names]
    folders = {name_key("/".join(n.split("/")[:k])) for n in files for k in range(1, n.count("/") + 1)}
    for given, n in zip(names, files):
        p = PurePosixPath(n)
        k = 2
        while name_key(n) in taken or name_key(n) in folders:
            n = str(p.with_name(f"{p.stem}~{k}{p.suffix}"))
            k += 1
        taken.add(name_key(n))
        out.append(n)
        if n != given:
            renamed.append((given, n))
    return out, renamed


def printable(text):
    """*text* quoted for a terminal or a log: controls, format characters (bidi overrides)
    and separators appear as escapes (\\x1b, \\u202e), never as themselves."""
    out = []
    for c in str(text):
        if c == "\\":
            out.append("\\\\")
        elif _hidden(c) or c == "'":
            o = ord(c)
            out.append("\\'" if c == "'" else f"\\x{o:02x}" if o < 0x100 else f"\\u{o:04x}")
        else:
            out.append(c)
    return "'" + "".join(out) + "'"
