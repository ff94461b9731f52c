"""The typer application: the global options and every command, in the order ``--help`` lists them."""

import typer

from .. import __version__
from . import apps, archive, bench, models, train
from .gzipargs import EPILOG

__all__ = ["app"]

app = typer.Typer(add_completion=False, no_args_is_help=True, pretty_exceptions_enable=False,
                  help="Learned lossy compression for 28x28 handwritten-digit images.", epilog=EPILOG,
                  context_settings={"help_option_names": ["-h", "--help"]})


def version_callback(value: bool):
    if value:
        typer.echo(f"aezip {__version__}")
        raise typer.Exit()


@app.callback()
def main(version: bool = typer.Option(False, "--version", "-V", callback=version_callback, is_eager=True,
                                      help="Show the version and exit.")):
    """aezip compresses digit images with a bundled autoencoder (lossy; see `aezip models`)."""


app.command()(archive.compress)
app.command()(archive.extract)
app.command()(archive.info)
app.command("test")(archive.test_cmd)
app.command()(models.models)
app.command(context_settings={"allow_extra_args": True, "ignore_unknown_options": True})(train.train)
app.command()(bench.bench)
app.command()(apps.denoise)
app.command()(apps.upscale)
app.command()(apps.show)
