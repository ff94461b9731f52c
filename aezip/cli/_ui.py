"""What the commands say: messages and warnings on stderr, exit codes, the progress bar."""

import time

import typer
from rich.console import Console
from rich.progress import Progress

from ..names import printable

__all__ = ["EXIT_OK", "EXIT_ERROR", "EXIT_WARNING", "Ui", "fail", "safe_text"]

EXIT_OK, EXIT_ERROR, EXIT_WARNING = 0, 1, 2


class Ui:
    """Messages on stderr; a progress bar for long work when stderr is a terminal."""

    def __init__(self, quiet=False, verbose=False):
        self.quiet, self.verbose = quiet, verbose
        self.warned = False

    def info(self, msg):
        if not self.quiet:
            typer.echo(safe_text(msg), err=True)

    def detail(self, msg):
        if self.verbose and not self.quiet:
            typer.echo(safe_text(msg), err=True)

    def warn(self, msg):
        """A warning: exit status 2; printed unless -q (which keeps the status, like gzip -q)."""
        self.warned = True
        if not self.quiet:
            typer.echo(f"aezip: warning: {safe_text(msg)}", err=True)

    def task(self, what, total=None):
        """A progress bar on stderr, shown only on a terminal and only once work has run 1 s."""
        return _Progress(what, total, enabled=not self.quiet)

    def exit_warned(self):
        """End the command with exit status 2 when a warning was shown."""
        if self.warned:
            raise typer.Exit(EXIT_WARNING)


class _Progress:
    """Context manager yielding advance(n); draws a rich bar once the work has taken a second."""

    DELAY = 1.0

    def __init__(self, what, total, enabled):
        self.what, self.total, self.enabled = what, total, enabled
        self.done, self.bar, self.start = 0, None, time.monotonic()

    def __enter__(self):
        if self.enabled:
            self.enabled = Console(stderr=True).is_terminal
        return self.advance

    def advance(self, n=1):
        self.done += n
        if not self.enabled:
            return
        if self.bar is None and time.monotonic() - self.start >= self.DELAY:
            self.bar = Progress(console=Console(stderr=True), transient=True)
            self.bar.start()
            self.id = self.bar.add_task(self.what, total=self.total, completed=self.done)
        if self.bar is not None:
            self.bar.update(self.id, completed=self.done)

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()
        return False


def safe_text(msg):
    """*msg* with every character a terminal would act on (controls, bidi overrides, line
    separators) escaped as :func:`aezip.names.printable` escapes it; the newlines that
    separate lines are kept."""
    return "\n".join(line if line.isprintable() else "".join(map(_safe_char, line))
                      for line in str(msg).split("\n"))


def _safe_char(c):
    shown = printable(c)[1:-1]   # printable quotes, and escapes ' and \ as well: keep those
    return c if c in "'\\" or shown == c else shown


def fail(msg, code=EXIT_ERROR):
    """Print a one-line error and end the command with *code*."""
    typer.echo(f"aezip: error: {safe_text(msg)}", err=True)
    raise typer.Exit(code)
