"""Shared pytest fixtures: where the shipped samples and (maybe) full MNIST are."""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
# Subprocesses (the installed `aezip` command, fresh interpreters) import this checkout's
# aezip, not whichever copy happens to be installed.
os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)


@pytest.fixture(scope="session")
def mnist_dir():
    """The folder with the four MNIST IDX files: $AEZIP_MNIST_DIR, default
    <repo>/../shared/mnist.  Skips the test, saying why, when it is absent."""
    d = Path(os.environ.get("AEZIP_MNIST_DIR", REPO.parent / "shared" / "mnist"))
    if not any((d / f"t10k-images-idx3-ubyte{ext}").exists() for ext in ("", ".gz")):
        pytest.skip(f"full MNIST not found in {d}: set AEZIP_MNIST_DIR to the folder with "
                    "the four IDX files")
    return d


@pytest.fixture(scope="session")
def samples():
    """<repo>/samples: 100 MNIST test digits as IDX and 30 of them as PNGs in digits/."""
    return REPO / "samples"
