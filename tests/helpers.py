"""Shared test helpers: where the repo, the samples and (maybe) MNIST are."""

import os
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples"
SAMPLE_IDX = SAMPLES / "t10k-first100-idx3-ubyte.gz"
MNIST_REASON = "full MNIST not found: set AEZIP_MNIST_DIR to the folder with the four IDX files"


def mnist_folder():
    """The MNIST folder ($AEZIP_MNIST_DIR or ../shared/mnist), or None when absent."""
    d = Path(os.environ.get("AEZIP_MNIST_DIR", REPO.parent / "shared" / "mnist"))
    return d if (d / "t10k-images-idx3-ubyte.gz").exists() or (d / "t10k-images-idx3-ubyte").exists() else None


def sample_digits():
    """The 100 shipped test digits, uint8 (100, 28, 28)."""
    from aezip.idx import read_idx
    return read_idx(SAMPLE_IDX)


def digits_for_tests(n=1000):
    """n MNIST test digits when MNIST is present, else the 100 shipped ones."""
    d = mnist_folder()
    if d is None:
        return sample_digits()
    from aezip.idx import load_mnist
    return load_mnist(d, "test")[0][:n]


def tiny_mnist(folder, n_train=600):
    """Write a small MNIST-layout folder built from the shipped samples (for training tests)."""
    from aezip.idx import write_idx
    x = sample_digits()
    rng = np.random.default_rng(0)
    reps = -(-n_train // len(x))
    train = np.concatenate([np.roll(x, rng.integers(-2, 3), axis=2) for _ in range(reps)])[:n_train]
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_idx(train, folder / "train-images-idx3-ubyte.gz")
    write_idx(np.zeros(len(train), np.uint8), folder / "train-labels-idx1-ubyte.gz")
    write_idx(x, folder / "t10k-images-idx3-ubyte.gz")
    write_idx(np.zeros(len(x), np.uint8), folder / "t10k-labels-idx1-ubyte.gz")
    return folder


def heavy_imports(statements, cwd="/"):
    """Run *statements* in a fresh interpreter (after `import sys, numpy, aezip`, with this
    checkout first on the path) and return which of torch and matplotlib it imported."""
    import subprocess
    import sys
    code = (f"import sys, numpy, aezip; {statements}; "
            "print('imported:', *[m for m in ('torch', 'matplotlib') if m in sys.modules])")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=cwd, env=env)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()[-1].split()[1:]


def assert_torch_free(statements):
    """Run *statements* in a fresh interpreter and check that neither torch nor matplotlib was imported."""
    assert heavy_imports(statements) == []


def load_script(name):
    """Import scripts/NAME.py as a module (scripts are not a package)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(f"aezip_script_{name}", REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def archive_with_names(images, names, quality=5):
    """A well-formed version 2 archive (valid checksum) storing *names* as given, even names
    that aezip.compress refuses: what a hostile writer could make from the spec."""
    from aezip import archive
    from aezip.codec import AezCompressor, psnr_bytes
    comp = AezCompressor(quality)
    codes, scores = comp.encode(np.asarray(images, np.uint8))
    return archive.write_lossy(comp.model.digest, comp.quality, comp.grid, codes, names=list(names),
                               psnr=psnr_bytes(scores))


def v1_archive(images, names=None, quality=5, **header):
    """A format version 1 file (aezip.container.pack, the layout aezip wrote until 2026-12-01)
    of *images* at *quality*, with *header* fields replaced: what older archives look like."""
    import dataclasses
    from aezip import container
    from aezip.codec import AezCompressor, psnr_bytes
    comp = AezCompressor(quality, judge=False)
    codes, scores = comp.encode(np.asarray(images, np.uint8))
    g, m = comp.grid, comp.model
    head = container.Header(1, 0, quality, g.sample_size, m.file_digest, m.name, len(codes), 28, 28, m.latent_dim,
                            tuple(g.offsets.tolist()), tuple(g.steps.tolist()))
    head = dataclasses.replace(head, **header)
    codes = codes if head.count == len(codes) else np.resize(codes, (head.count, codes.shape[1]))
    return container.pack(head, codes, names=names, psnr=None if head.count != len(scores) else psnr_bytes(scores))
