"""Add each bundled model's canonical digest to its card (formats/aez.md Appendix A).

    python scripts/card_digests.py [--models trained]

The canonical SHA-256 covers what decoding needs (decoder ops, arrays, calibration), not the
weights file's bytes; version 2 archives name models by it.  The card's ``model_id`` becomes
NAME@(first 8 bytes of it); ``sha256`` (the file's, which version 1 archives name) stays.
Re-running changes nothing.  trained/README.md is regenerated from the cards.
"""

import argparse
import json
from pathlib import Path

from aezip.container import model_id
from aezip.grid import canonical_digest
from aezip.weights import load_weights


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=str(Path(__file__).resolve().parent.parent / "trained"))
    folder = Path(ap.parse_args().models)
    for path in sorted(folder.glob("*.json")):
        card = json.loads(path.read_text())
        meta, arrays, sha = load_weights(folder / card["weights"], expect_sha256=card["sha256"])
        if "decoder" not in meta:   # not an autoencoder (the digit classifier): archives never name it
            continue
        canonical = canonical_digest(meta, arrays).hex()
        card.update(canonical_sha256=canonical, model_id=model_id(card["name"], canonical))
        path.write_text(json.dumps(card, indent=2, sort_keys=True) + "\n")
        print(f"{path.name}: {card['model_id']} (file {sha[:16]})")
    from aezip.training.cards import render_readme
    render_readme(folder)


if __name__ == "__main__":
    main()
