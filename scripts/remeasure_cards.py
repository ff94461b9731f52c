"""Re-measure the bundled codec models' cards on the MNIST test set without retraining.

    python scripts/remeasure_cards.py --data ../shared/mnist [--models rd16 rdf32]

Runs the same measurement ``aezip train`` ends with (``aezip.training.cards.measure``: the
whole-file bytes per image and PSNR of real archives at every step fraction) and rewrites the
card's ``measured`` numbers, then trained/README.md.  Needed when the container changes what
a file costs (format version 2 stores no quantization table at a quality level); the weights,
and so every PSNR, stay as they were.
"""

import argparse
import json

from aezip import zoo
from aezip.idx import load_mnist
from aezip.training.cards import measure, render_readme


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="folder with the MNIST IDX files")
    ap.add_argument("--models", nargs="*", help="model names (default: every codec model)")
    a = ap.parse_args()
    x, _ = load_mnist(a.data, "test")
    folder = zoo.trained_dir()
    for name, card in zoo.cards().items():
        if card.get("task", "reconstruct") != "reconstruct" or (a.models and name not in a.models):
            continue
        fresh = measure(zoo.get_model(name), x)
        path = folder / f"{name}.json"
        saved = json.loads(path.read_text())
        saved["measured"] = dict(saved.get("measured", {}), **fresh)
        path.write_text(json.dumps(saved, indent=2, sort_keys=True) + "\n")
        print(name, " ".join(f"{r['step_fraction']:g}:{r['bytes_per_image']:.3f}B/{r['psnr']:.2f}dB"
                             for r in fresh["quantized"]), flush=True)
    render_readme(folder)


if __name__ == "__main__":
    main()
