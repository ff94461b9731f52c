"""Train the lossless coder's causal pixel model; writes trained/<name>.npz and its card <name>.json.

    python scripts/train_pixel_model.py --data ../shared/mnist --out trained --epochs 5 --threads 1
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aezip.training.pixel_model import main  # noqa: E402

if __name__ == "__main__":
    main()
