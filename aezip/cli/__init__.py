"""The ``aezip`` command line: :func:`run` turns every outcome into one line and an exit code.

gzip habits: -f to overwrite, -q/-v, '-' for stdin/stdout; exit 0 ok, 1 error, 2 warning
(with or without -q); errors are one line on stderr, never a traceback (unless
AEZIP_DEBUG=1: then an unexpected error shows its traceback).  gzip's own short forms
(``aezip -d FILE.aez``, ``-t``, ``-l``, ``-c``, ``-1``..``-9``, ``-k``, a bare ``aezip FILE``)
are rewritten into the commands by :mod:`.gzipargs` before typer sees them.  SIGTERM and
SIGHUP end a command the way Ctrl-C does, so every half-written output is removed.  The
commands live in :mod:`.archive` (compress, extract, info, test), :mod:`.models`,
:mod:`.apps` (denoise, upscale, show), :mod:`.bench` and :mod:`.train`; :mod:`.app` puts
them together.
"""

import os
import signal
import sys

import typer

from .. import __version__
from ..errors import AezError
from ._ui import EXIT_ERROR, EXIT_OK, safe_text
from .gzipargs import gzip_to_commands

try:  # typer >= 0.24 vendors click as typer._click; older ones use the click package
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _ClickException

__all__ = ["run", "entry", "DEBUG_ENV"]

DEBUG_ENV = "AEZIP_DEBUG"   # set to 1: an internal error prints its traceback and is re-raised


def _debug():
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where the program is, so that every ``except
    BaseException`` / ``finally`` that removes a half-written output runs, as for Ctrl-C."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


_received = []   # the terminating signals received, for when typer hands back only "130"


def _terminate(signum, frame):
    _received.append(signum)
    raise Terminated(signum)


class _CleanupOnSignals:
    """While active, SIGTERM and SIGHUP raise :class:`Terminated` (main thread only)."""

    SIGNALS = [getattr(signal, s) for s in ("SIGTERM", "SIGHUP") if hasattr(signal, s)]

    def __enter__(self):
        self.old = {}
        try:
            for s in self.SIGNALS:
                self.old[s] = signal.signal(s, _terminate)
        except ValueError:  # not the main thread: signals stay as they were
            pass
        return self

    def __exit__(self, *exc):
        for s, handler in self.old.items():
            signal.signal(s, handler)
        return False


def _interrupted(exc):
    """The message and exit status for Ctrl-C (130) or a terminating signal (128 + its number)."""
    while exc is not None and not isinstance(exc, KeyboardInterrupt):
        exc = exc.__cause__ or exc.__context__
    signum = exc.signum if isinstance(exc, Terminated) else _received[-1] if _received else None
    if signum is not None:
        typer.echo(f"aezip: {signal.Signals(signum).name}: stopped, nothing half-written left", err=True)
        return 128 + signum
    typer.echo("aezip: interrupted", err=True)
    return 130


def run(argv=None):
    """Entry point: run the app, turning every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):  # answered before numpy, zstandard and the models load
        typer.echo(f"aezip {__version__}")
        return EXIT_OK
    try:
        calls = gzip_to_commands(args)
    except ValueError as e:
        typer.echo(f"aezip: error: {safe_text(e)} (see 'aezip --help')", err=True)
        return EXIT_ERROR
    rc = EXIT_OK
    _received.clear()
    with _CleanupOnSignals():
        for call in calls:  # `aezip -d a.aez b.aez` extracts each: the worst status wins
            got = _run_one(call)
            if got not in (EXIT_OK, EXIT_ERROR, 2):
                return got  # interrupted: stop here
            rc = max(rc, got, key=lambda c: (0, 2, 1).index(c))
    return rc


def _run_one(args):
    from .app import app  # the commands import numpy and the codec: only past the --version answer
    try:
        # standalone_mode=False: click returns a command's exit code instead of raising SystemExit
        rc = app(args=args, standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C (and so SIGTERM, SIGHUP) into a silent exit code 130
            return _interrupted(None)
        return rc if isinstance(rc, int) else EXIT_OK
    except typer.Exit as e:
        return e.exit_code
    except AezError as e:
        typer.echo(f"aezip: error: {safe_text(e)}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt as e:
        return _interrupted(e)
    except BrokenPipeError:
        return EXIT_ERROR
    except typer.Abort as e:
        return _interrupted(e)
    except _ClickException as e:  # usage errors: one line, like every other error
        hint = f" (see 'aezip {e.ctx.info_name} --help')" if getattr(e, "ctx", None) and e.ctx.parent else ""
        typer.echo(f"aezip: error: {safe_text(e.format_message())}{hint}", err=True)
        return EXIT_ERROR  # not click's 2: here 2 means "done, with warnings"
    except Exception as e:  # the unexpected: still one line, never a traceback, unless AEZIP_DEBUG=1
        typer.echo(f"aezip: error: internal error: {type(e).__name__}: {safe_text(e)}", err=True)
        if _debug():
            raise
        return EXIT_ERROR


def entry():
    sys.exit(run())
