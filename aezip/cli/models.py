"""``aezip models``: the installed models and the quality ladder, with their measured numbers."""

import typer

from ..zoo import DEFAULT_QUALITY, LADDER, card_psnr, cards, measured_point

__all__ = ["models"]


def models():
    """List the installed models, their ids and measured quality."""
    typer.echo(f"{'model':<14} {'task':<12} {'id':<34} test PSNR (float code)")
    for name, c in cards().items():
        p = card_psnr(c)
        typer.echo(f"{name:<14} {c.get('task', 'reconstruct'):<12} {c['model_id']:<34} "
                   + (f"{p:.2f} dB" if p is not None else "-") + ("  (retired: decodes only)" if c.get("retired") else ""))
    typer.echo("")
    typer.echo("quality  model              step   bytes/image   PSNR (MNIST test set, measured)")
    for q in sorted(LADDER):
        name, frac, row = measured_point(q)
        got = f"{row['bytes_per_image']:>11.2f}   {row['psnr']:.2f} dB" if row else f"{'-':>11}   -"
        mark = "  (default)" if q == DEFAULT_QUALITY else ""
        typer.echo(f"{q:>7}  {name:<14} {frac:>8.4f}   {got}{mark}")
