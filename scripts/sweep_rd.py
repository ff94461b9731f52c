"""Hyper-parameter sweep for the rate-aware CNN models (run once on a GPU machine).

    OUT=/tmp/sweep PYTHONPATH=. python scripts/sweep_rd.py MNIST_DIR

Trains the (architecture, quantization step, rate weight) settings in CONFIGS
with ``aezip.training.train`` (8 epochs, batch 64, on cuda), one process each, and
writes each exported weights file and its card-like JSON to $OUT.  It chose
the rate weights of the bundled rd16/rd32/rd32h models (issue 5); the bundled
models themselves were trained on the CPU by the commands in their cards, and
their real .aez bytes are measured by ``scripts/ladder.py``.  The GPU machine
had neither zstandard nor rich, so both are stubbed here (training uses neither).
"""
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

OUT = Path(os.environ.get("OUT", "sweep_out"))
DATA = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/mnist"
EPOCHS = int(os.environ.get("SWEEP_EPOCHS", "8"))

CONFIGS = [  # (arch, quant step, rate weight)
    ("cnn32", 1.0, 0.01), ("cnn32", 1.0, 0.03), ("cnn32", 1.0, 0.1), ("cnn32", 1.0, 0.3),
    ("cnn32", 1.0, 1.0), ("cnn64", 1.0, 0.003), ("cnn64", 1.0, 0.01), ("cnn16", 1.0, 0.1),
    ("cnn16", 1.0, 0.3), ("cnn8", 1.0, 1.0), ("cnn8", 1.0, 2.0), ("cnn32", 1.0, 0.0),
    ("cnn16", 1.0, 0.6), ("cnn32", 1.0, 0.6),
]


def _shims():
    """The GPU machine lacks zstandard and rich: stub what training never calls."""
    import types
    for mod in ("zstandard",):
        try:
            __import__(mod)
        except ImportError:
            sys.modules[mod] = types.ModuleType(mod)
    import aezip.training.train as tr
    try:
        import rich  # noqa: F401
    except ImportError:
        class Bar:
            def __enter__(self): return self
            def __exit__(self, *a): return False
            def add_task(self, *a, **k): return 0
            def update(self, *a, **k): pass
        tr._progress = Bar


def one(cfgt):
    _shims()
    import torch
    import aezip.training.train as training
    from aezip.training.train import TrainConfig, train
    from aezip.weights import save_weights
    arch, qn, lam = cfgt
    name = f"{arch}-q{qn:g}-l{lam:g}"
    torch.set_num_threads(1)

    def write_model(out, name_, meta, arrays, card, losses, data_dir, log=print):
        sha = save_weights(OUT / f"{name}.npz", meta, arrays)
        card = dict(card, sha256=sha, weights=f"{name}.npz", name=name)
        (OUT / f"{name}.json").write_text(json.dumps(card, indent=1))
        return card
    training.write_model = write_model   # train() writes through this name
    cfg = TrainConfig(arch=arch, name=name, data=DATA, out=str(OUT), epochs=EPOCHS, batch_size=64,
                      quant_noise=qn, rate_weight=lam, extra={"device": "cuda"})
    t = time.time()
    c = train(cfg, log=lambda m: None)
    return name, round(time.time() - t, 1), c["test_psnr_float_torch"]


if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    import multiprocessing as mp
    with ProcessPoolExecutor(len(CONFIGS), mp_context=mp.get_context("spawn")) as ex:
        for r in ex.map(one, CONFIGS):
            print(*r, flush=True)
