"""The rules for image names in an archive (formats/aez.md §5.2), in one place, and the one
way to show a string from an archive on a terminal.

``check_name`` says what is wrong with one name; ``check_names`` refuses a list that would
not extract to the same files on every system (duplicates under NFC + case folding, a name
that is also a folder); ``unique_names`` makes a list that passes, for the writer;
``printable`` escapes what a terminal would act on.  ``compress``, ``test`` and ``extract``
all use these, so an archive ``test`` passes is one ``extract`` writes.
"""

import unicodedata
from pathlib import PurePosixPath

from .errors import UnsafeName

__all__ = ["check_name", "check_names", "name_key", "unique_names", "sanitize_name", "printable",
           "MAX_COMPONENT", "MAX_DEPTH"]

MAX_COMPONENT = 255   # UTF-8 bytes in one path component
MAX_DEPTH = 64        # components in one name
DEVICE_NAMES = frozenset(["CON", "PRN", "AUX", "NUL"] + [f"COM{i}" for i in range(1, 10)]
                         + [f"LPT{i}" for i in range(1, 10)])
_SEPARATORS = ("\u2028", "\u2029")


def _hidden(c):
    """Characters a name may not hold: controls (Cc), format characters (Cf: bidi overrides,
    zero-width characters, soft hyphen, BOM) and the line/paragraph separators."""
    return unicodedata.category(c) in ("Cc", "Cf") or c in _SEPARATORS


def check_name(name):
    """None for a valid archive name, else a short reason (no name in it)."""
    if not name:
        return "is empty"
    if any(_hidden(c) for c in name):
        c = next(c for c in name if _hidden(c))
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
    """Raise UnsafeName for the first invalid name, duplicate, or name that is also a folder."""
    seen, folders = {}, set()
    for i, n in enumerate(names):
        reason = check_name(n)
        if reason:
            raise UnsafeName(f"archive name {i} {printable(n)} {reason}")
        key = name_key(n)
        if key in seen:
            first = names[seen[key]]
            raise UnsafeName(f"archive name {printable(n)} is held twice" if first == n else
                             f"archive names {printable(first)} and {printable(n)} are the same file on a "
                             "case-insensitive or normalizing disk")
        seen[key] = i
        parts = key.split("/")
        folders.update("/".join(parts[:k]) for k in range(1, len(parts)))
    clash = next((n for n in names if name_key(n) in folders), None)
    if clash is not None:
        raise UnsafeName(f"archive name {printable(clash)} is both a file and a folder")


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
