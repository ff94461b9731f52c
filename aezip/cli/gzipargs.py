"""gzip's command line on top of aezip's commands: argv rewritten before typer sees it.

    aezip FILE...            compress FILE... (to FILE.aez beside the first input, unless -o)
    aezip -d|--decompress    extract, once per archive named
    aezip -t|--test          test
    aezip -l|--list          info
    aezip -c|--stdout        write to stdout (compress, extract)
    aezip -1 .. -9           compress --quality 1 .. 9 (also after `compress` and `show`)
    aezip -k|--keep          accepted and dropped: inputs are always kept

Short flags may be bundled as gzip allows (``-dc``, ``-9f``, ``-tv``).  Everything else
(-f, -q, -v, -o, ...) is handed to the command unchanged.
"""

import os
import re

__all__ = ["gzip_to_commands", "COMMANDS", "EPILOG"]

COMMANDS = ("compress", "extract", "info", "test", "models", "train", "bench", "denoise", "upscale", "show")
_MODES = {"-d": "extract", "--decompress": "extract", "--uncompress": "extract",
          "-t": "test", "--test": "test", "-l": "list", "--list": "list"}
_LONG = {"--stdout": "-c", "--to-stdout": "-c", "--keep": "-k", "--fast": "-1", "--best": "-9"}
_BUNDLE = re.compile(r"-[dtlckfqv1-9]{2,}$")
_QUALITY = re.compile(r"-[1-9]$")
# options of the rewritten commands that take a value: the token after them is not a file
_VALUED = {"-o", "--output", "--format", "-Q", "--quality", "--model", "--min-psnr", "--warn-psnr"}

EPILOG = ("gzip's short forms work too: aezip FILE... (compress to FILE.aez), -d FILE.aez (extract "
          "to FILE/ or FILE.npy), -t (test), -l (list, like info), -c / --stdout (write to stdout), "
          "-1 .. -9 (quality), -k (accepted: inputs are always kept), -f, -q, -v. "
          "Exit status: 0 ok, 1 error, 2 warning, the same with -q.")


def _split(args):
    """Bundled short flags split (``-dc`` -> ``-d -c``), long gzip names made short, up to '--'."""
    out = []
    for i, a in enumerate(args):
        if a == "--":
            return out + args[i:]
        if _BUNDLE.match(a) and (not out or out[-1] not in _VALUED):
            out += [f"-{c}" for c in a[1:]]
        else:
            out.append(_LONG.get(a, a) if not out or out[-1] not in _VALUED else a)
    return out


def _quality_flags(args):
    """``-N`` -> ``-Q N`` where -N is not the value of an option."""
    out = []
    for a in args:
        if _QUALITY.match(a) and (not out or out[-1] not in _VALUED):
            out += ["-Q", a[1:]]
        else:
            out.append(a)
    return out


def _positionals(args):
    """(files, options): the positional arguments of *args*, and the rest (options with their
    values) in order."""
    files, options, value = [], [], False
    for a in args:
        if value or a in _VALUED or (a != "-" and a.startswith("-")):
            options.append(a)
            value = not value and a in _VALUED
        else:
            files.append(a)
    return files, options


def gzip_to_commands(args):
    """The aezip command lines (each a list of arguments) that *args* means.

    A first argument that is a command, ``--help`` or an option typer answers is left as it
    is (``compress`` and ``show`` still take ``-1``..``-9``); a ValueError is a usage error."""
    args = list(args)
    if not args or args[0] in ("-h", "--help", "-V", "--version"):
        return [args]
    if args[0] in COMMANDS:
        if args[0] in ("compress", "show"):
            args = [args[0]] + _quality_flags(_split(args[1:]))
        return [args]
    if not args[0].startswith("-") and not os.path.lexists(args[0]):
        return [args]  # not a file: a misspelt command, which typer names
    args = _split(args)
    modes = {_MODES[a] for a in args if a in _MODES}
    if len(modes) > 1:
        raise ValueError(f"-d, -t and -l exclude each other (got {', '.join(sorted(modes))})")
    mode = modes.pop() if modes else "compress"
    rest = [a for a in args if a not in _MODES and a != "-k"]
    if mode == "compress":
        return [["compress"] + _quality_flags(rest)]
    if any(_QUALITY.match(a) for a in rest):
        raise ValueError(f"-1 .. -9 set the quality of compression, not of {mode}")
    if mode in ("test", "list"):
        if "-c" in rest:
            raise ValueError(f"-c (stdout) does not apply to {'-t' if mode == 'test' else '-l'}")
        return [["test" if mode == "test" else "info"] + rest]
    files, options = _positionals(rest)
    if len(files) <= 1:
        return [["extract"] + rest]
    if "-o" in rest or "--output" in rest:
        raise ValueError(f"-o names one output, but -d got {len(files)} archives")
    return [["extract", f] + options for f in files]
