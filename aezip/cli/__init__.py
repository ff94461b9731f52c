"""The ``aezip`` command line: :func:`run` turns every outcome into one line and an exit code.

gzip habits: -f to overwrite, -q/-v, '-' for stdin/stdout; exit 0 ok, 1 error, 2 warning;
errors are one line on stderr, never a traceback (unless AEZIP_DEBUG=1: then an
unexpected error shows its traceback).  The commands live in :mod:`.archive`
(compress, extract, info, test), :mod:`.models`, :mod:`.apps` (denoise, upscale, show),
:mod:`.bench` and :mod:`.train`; :mod:`.app` puts them together.
"""

import os
import sys

import typer

from .. import __version__
from ..errors import AezError
from ._ui import EXIT_ERROR, EXIT_OK

try:  # typer >= 0.24 vendors click as typer._click; older ones use the click package
    from typer._click.exceptions import ClickException as _ClickException
except ImportError:  # pragma: no cover
    from click.exceptions import ClickException as _ClickException

__all__ = ["run", "entry", "DEBUG_ENV"]

DEBUG_ENV = "AEZIP_DEBUG"   # set to 1: an internal error prints its traceback and is re-raised


def _debug():
    return os.environ.get(DEBUG_ENV, "").strip() not in ("", "0")


def run(argv=None):
    """Entry point: run the app, turning every error into one line and an exit code."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args in (["--version"], ["-V"]):  # answered before numpy, zstandard and the models load
        typer.echo(f"aezip {__version__}")
        return EXIT_OK
    from .app import app  # the commands import numpy and the codec: only past the --version answer
    try:
        # standalone_mode=False: click returns a command's exit code instead of raising SystemExit
        rc = app(args=argv, standalone_mode=False)
        if rc == 130:  # typer turns Ctrl-C into a silent exit code 130
            typer.echo("aezip: interrupted", err=True)
        return rc if isinstance(rc, int) else EXIT_OK
    except typer.Exit as e:
        return e.exit_code
    except AezError as e:
        typer.echo(f"aezip: error: {e}", err=True)
        return EXIT_ERROR
    except KeyboardInterrupt:
        typer.echo("aezip: interrupted", err=True)
        return 130
    except BrokenPipeError:
        return EXIT_ERROR
    except typer.Abort:
        typer.echo("aezip: interrupted", err=True)
        return 130
    except _ClickException as e:  # usage errors: one line, like every other error
        hint = f" (see 'aezip {e.ctx.info_name} --help')" if getattr(e, "ctx", None) and e.ctx.parent else ""
        typer.echo(f"aezip: error: {e.format_message()}{hint}", err=True)
        return EXIT_ERROR  # not click's 2: here 2 means "done, with warnings"
    except Exception as e:  # the unexpected: still one line, never a traceback, unless AEZIP_DEBUG=1
        typer.echo(f"aezip: error: internal error: {type(e).__name__}: {e}", err=True)
        if _debug():
            raise
        return EXIT_ERROR


def entry():
    sys.exit(run())
