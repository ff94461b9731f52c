"""Model cards: write a trained model's files and measure what the card reports.

:func:`write_model` is the last step of ``aezip train``.  It saves the weights,
measures the exported model with the numpy runtime on the MNIST test set (float
code PSNR, and bytes per image and PSNR of real .aez files at each quantization
step), draws the loss curve and the reconstruction grid, writes the JSON card,
and regenerates ``README.md`` in the output folder from every card there.
Everything is written under temporary names first and renamed at the end.
"""

import json
import math
import os
from pathlib import Path

import numpy as np

from ..codec import AezCompressor
from ..container import model_id
from ..grid import STEP_FRACTION, canonical_digest
from ..idx import load_mnist
from ..metrics import psnr
from ..weights import save_weights
from ..zoo import LADDER, Model

__all__ = ["write_model", "measure", "render_readme", "STEP_FRACTIONS"]

# Quantization steps measured for every codec model, as fractions of the step
# unit (the trained step of a rate-aware model, else the code std): see
# aezip.grid.grid_for.  Fractions above 1 give the smallest files.
# A model's card also measures any other step its quality levels use (zoo.LADDER).
STEP_FRACTIONS = [2.0, 1.75, 1.6, 1.5, 1.25, 1.1, 1.0, 3 / 4, 1 / 2, 1 / 4, 1 / 8]


def measure(model, test_x, noisy=None):
    """Return the card's measured numbers for a loaded model on uint8 test images."""

    result = {}
    if model.task == "upscale":
        small = test_x.reshape(-1, 14, 2, 14, 2).astype(np.float32).mean((2, 4))
        small = np.rint(small).astype(np.uint8)
        result["test_psnr"] = psnr(model.run(small), test_x)
        return result
    if model.task == "denoise":
        result["test_psnr_clean_input"] = psnr(model.run(test_x), test_x)
        return result
    result["test_psnr_float_code"] = psnr(model.run(test_x), test_x)
    rows = []
    ladder_steps = [f for name, f in LADDER.values() if name == model.name and f not in STEP_FRACTIONS]
    for fraction in sorted(STEP_FRACTIONS + ladder_steps, reverse=True):
        # a fraction some quality level uses is measured as that level's archives are written
        # (no stored table); any other as a custom step (its table stored, level 0)
        levels = [q for q, f in STEP_FRACTION.items() if abs(f - fraction) < 1e-9]
        level = next((q for q in levels if LADDER[q][0] == model.name), levels[0] if levels else None)
        comp = AezCompressor(level, model=model) if level else AezCompressor(model=model, step=fraction)
        data, scores = comp.compress_archive(test_x)
        # PSNR over all pixels from the per-image PSNRs of what a decoder outputs (inf = exact)
        mse = np.where(np.isinf(scores), 0.0, 10.0 ** (-np.asarray(scores, np.float64) / 10)).mean()
        rows.append({"step_fraction": round(fraction, 6), "bytes_per_image": len(data) / len(test_x),
                     "psnr": math.inf if mse == 0 else 10 * math.log10(1 / mse)})
    result["quantized"] = rows
    return result


def _loss_plot(losses, path, title):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=100)
    ax.plot(np.arange(len(losses)), losses, lw=0.3, alpha=0.4, label="per batch")
    k = max(1, len(losses) // 200)
    smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
    ax.plot(np.arange(len(smooth)) + k // 2, smooth, lw=1.5, label=f"mean of {k}")
    ax.set_xlabel("iteration")
    ax.set_ylabel("MSE loss")
    ax.set_yscale("log")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, format="png", metadata={"Software": None})
    plt.close(fig)


def recon_grid(top, bottom, scale=3):
    """A Pillow image: *top* images in one row above *bottom* images (uint8 stacks)."""
    from PIL import Image

    n, h, w = bottom.shape
    gap = 2
    grid = np.full((2 * h + 3 * gap, n * (w + gap) + gap), 128, np.uint8)
    for i in range(n):
        x = gap + i * (w + gap)
        grid[gap:gap + h, x:x + w] = top[i] if top.shape[1:] == (h, w) else np.asarray(
            Image.fromarray(top[i]).resize((w, h), Image.NEAREST))
        grid[2 * gap + h:2 * gap + 2 * h, x:x + w] = bottom[i]
    img = Image.fromarray(grid)
    return img.resize((img.width * scale, img.height * scale), Image.NEAREST)


def write_model(out, name, meta, arrays, card, losses, data_dir, log=print):
    """Save weights, card, plots for one trained model; return the card."""

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    finals = {k: out / f"{name}{k}" for k in (".npz", ".json", "-loss.png", "-recon.png")}
    temps = {k: p.with_name(f".{p.name}.new") for k, p in finals.items()}
    try:
        sha = save_weights(temps[".npz"], meta, arrays)
        canonical = canonical_digest(meta, arrays).hex()   # what version 2 archives name
        card = dict(card, weights=finals[".npz"].name, sha256=sha, canonical_sha256=canonical,
                    model_id=model_id(name, canonical), codec=meta.get("task", "reconstruct") == "reconstruct",
                    task=meta.get("task", "reconstruct"))
        model = Model(dict(card, weights=temps[".npz"].name), out)
        test_x, _ = load_mnist(data_dir, "test")
        log(f"measuring {name} with the numpy runtime on {len(test_x)} test images")
        card["measured"] = measure(model, test_x)
        _loss_plot(np.asarray(losses), temps["-loss.png"], f"{name}: training loss")
        shown = test_x[:20]
        if model.task == "upscale":
            inp = np.rint(shown.reshape(-1, 14, 2, 14, 2).astype(np.float32).mean((2, 4))).astype(np.uint8)
        else:
            inp = shown
        recon_grid(inp, model.run(inp)).save(temps["-recon.png"], format="PNG")
        temps[".json"].write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        for k in finals:
            os.replace(temps[k], finals[k])
    finally:
        for p in temps.values():
            p.unlink(missing_ok=True)
    render_readme(out)
    return card


def _fmt(v, nd=2):
    return "-" if v is None else f"{v:.{nd}f}"


def render_readme(folder):
    """Regenerate ``README.md`` in *folder* from the JSON cards there."""
    folder = Path(folder)
    cards = []
    for p in sorted(folder.glob("*.json")) + sorted(folder.glob("*/*.json")):
        try:
            c = json.loads(p.read_text())
        except ValueError:
            continue
        if isinstance(c, dict) and "sha256" in c and "measured" in c and c.get("task") != "classify":
            c["_dir"] = p.parent.relative_to(folder).as_posix()
            cards.append(c)
    lines = [
        "# Trained models",
        "",
        "Generated by `aezip train` (aezip/training/cards.py) from the JSON model cards in this folder;",
        "do not edit by hand. Every number below was measured by the training run that wrote the card,",
        "with the numpy runtime, on the 10,000 MNIST test images. PSNR = 10·log10(1/MSE), pixels in [0,1].",
        "",
        "| model | task | params | epochs | lr | test PSNR (float code) | train time | id |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in cards:
        m = c["measured"]
        p = m.get("test_psnr_float_code", m.get("test_psnr", m.get("test_psnr_clean_input")))
        lines.append(f"| {c['name']} | {c.get('task', 'reconstruct')} | {c['parameters']:,} | {c['epochs']} | "
                     f"{c['config']['lr']:g} | {_fmt(p)} dB | {c['train_seconds']:.0f} s | `{c['model_id']}` |")
    for c in cards:
        pre = "" if c["_dir"] == "." else c["_dir"] + "/"
        lines += ["", f"## {c['name']}", "", f"![loss]({pre}{c['name']}-loss.png)", "",
                  f"![reconstructions]({pre}{c['name']}-recon.png)", "",
                  "Reproduce:", "", "```", c["command"] or "(command not recorded)", "```", ""]
        if c.get("notes"):
            lines += [c["notes"], ""]
        lines += [f"- final train loss {c['final_train_loss']:.5f}, test loss {c['final_test_loss']:.5f}",
                  f"- weights `{c['weights']}` SHA-256 `{c['sha256']}`"
                  + ("" if (folder / c["_dir"] / c["weights"]).exists() else
                     " (not bundled, to keep trained/ small: the command above rebuilds this exact file)"),
                  "- data: " + ", ".join(f"`{k}` {v[:12]}…" for k, v in sorted(c["data_sha256"].items())),
                  "- versions: " + ", ".join(f"{k} {v}" for k, v in c["versions"].items())]
        rows = c["measured"].get("quantized")
        if rows:
            lines += ["", "| quantization step (× code std) | bytes/image (whole .aez) | PSNR |", "|---|---|---|"]
            lines += [f"| {r['step_fraction']:.4g} | {r['bytes_per_image']:.2f} | {r['psnr']:.2f} dB |" for r in rows]
    (folder / "README.md").write_text("\n".join(lines) + "\n")


def remeasure(folder, data_dir, names=None, log=print):
    """Measure installed models again (after a codec change) and rewrite their cards and README."""

    folder = Path(folder)
    test_x, _ = load_mnist(data_dir, "test")
    for p in sorted(folder.glob("*.json")):
        card = json.loads(p.read_text())
        if "sha256" not in card or (names and card["name"] not in names):
            continue
        log(f"measuring {card['name']}")
        card["measured"] = measure(Model(card, folder), test_x)
        tmp = p.with_name(f".{p.name}.new")
        tmp.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        os.replace(tmp, p)
    render_readme(folder)


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="Re-measure model cards with the current codec.")
    ap.add_argument("--data", required=True, help="MNIST folder")
    ap.add_argument("--folder", default="trained")
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    remeasure(a.folder, a.data, a.names or None)
