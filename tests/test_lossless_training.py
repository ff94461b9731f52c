"""Training the pixel model: deterministic, exports a valid integer model and a card."""

import json

import numpy as np
import pytest

from helpers import sample_digits, tiny_mnist

torch = pytest.importorskip("torch", reason="training needs torch (the [train] extra)")


def _train(tmp_path, name):
    from aezip.training.pixel_model import train_pixel_model

    data = tiny_mnist(tmp_path / "data", n_train=200)
    model, card = train_pixel_model(data, out=tmp_path / name, name="px", epochs=1, batch_images=50,
                                    h1=8, h2=8, seed=3, threads=1, command="test", log=lambda *_: None)
    return model, card


def test_training_is_deterministic_and_exports_a_working_model(tmp_path):
    from aezip import lossless
    from aezip.lossless.model import PixelModel

    m1, card = _train(tmp_path, "a")
    m2, _ = _train(tmp_path, "b")
    assert m1.digest == m2.digest  # same seed, one thread: bit-identical integer weights
    saved = PixelModel.load(tmp_path / "a" / "px.npz")
    assert saved.digest == m1.digest
    written = json.loads((tmp_path / "a" / "px.json").read_text())
    assert written["digest"] == m1.digest.hex() == card["digest"]
    for key in ("command", "data_sha256", "config", "test", "wall_seconds", "versions"):
        assert key in written
    t = written["test"]
    # the integer model tracks the float one closely, and the coder the integer model
    assert abs(t["integer_ideal_bit_per_px"] - t["float_ideal_bit_per_px"]) < 0.02 * t["float_ideal_bit_per_px"]
    x = sample_digits()[:8]
    payload = lossless.encode_pixels(x, model=saved)
    assert np.array_equal(lossless.decode_pixels(payload, 8, 28, 28, model=saved), x)
