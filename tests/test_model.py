"""The reference model: training, export, the numpy runtime, and the bundled mlp9."""

import json
import subprocess
import sys

import numpy as np
import pytest

from helpers import REPO, assert_torch_free, digits_for_tests, mnist_folder, tiny_mnist
from aezip import zoo
from aezip.errors import BadData, BadWeights
from aezip.idx import parse_idx, read_idx, write_idx
from aezip.weights import load_weights


def test_import_aezip_does_not_import_torch():
    assert_torch_free("import aezip.codec, aezip.cli, aezip.zoo, aezip.inputs; "
                      "aezip.decompress(aezip.compress(numpy.zeros((2,28,28),'uint8')))")


def test_bundled_mlp9_card_matches_weights():
    card = zoo.cards()["mlp9"]
    meta, arrays, digest = load_weights(zoo.trained_dir() / card["weights"], expect_sha256=card["sha256"])
    assert digest == card["sha256"]
    assert meta["arch"] == "mlp9" and meta["latent_dim"] == 9
    # the lecture's layer sizes, exactly
    shapes = [arrays[f"encoder.{i}.weight"].shape for i in (1, 3, 5, 7, 9)]
    assert shapes == [(128, 784), (64, 128), (36, 64), (18, 36), (9, 18)]
    assert card["measured"]["test_psnr_float_code"] >= 17.0


def test_weights_hash_mismatch_is_refused(tmp_path):
    card = zoo.cards()["mlp9"]
    src = zoo.trained_dir() / card["weights"]
    bad = tmp_path / "mlp9.npz"
    data = bytearray(src.read_bytes())
    data[len(data) // 2] ^= 1
    bad.write_bytes(bytes(data))
    with pytest.raises(BadWeights, match=r"mlp9.npz: SHA-256 .* does not match its model card"):
        load_weights(bad, expect_sha256=card["sha256"])


def test_numpy_runtime_agrees_with_torch():
    torch = pytest.importorskip("torch")
    from aezip.training.model import load_torch

    m = zoo.get_model("mlp9")
    meta, arrays, _ = load_weights(zoo.trained_dir() / m.card["weights"])
    net = load_torch(meta, arrays)
    x = digits_for_tests(1000)
    xf = x.astype(np.float32)[:, None] / 255
    with torch.no_grad():
        z_t = net.encoder(torch.from_numpy(xf)).numpy()
        y_t = net.decoder(torch.from_numpy(z_t)).numpy()
    z_n = m.encoder(xf.copy())
    y_n = m.decoder(z_t.copy())
    assert np.abs(z_n - z_t).max() <= 1e-5
    assert np.abs(y_n - y_t).max() <= 1e-5


def test_short_training_run_loss_falls_and_exports(tmp_path):
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib", reason="training draws its loss plot with matplotlib (the train extra)")
    from aezip.training.train import TrainConfig, train
    from aezip.zoo import Model

    data = tiny_mnist(tmp_path / "data", n_train=9600)
    out = tmp_path / "out"
    cfg = TrainConfig(arch="mlp9", name="tiny", data=str(data), out=str(out), epochs=1,
                      batch_size=32, seed=1, threads=1, command="test")
    card = train(cfg, log=lambda m: None)
    assert card["steps"] == 300
    losses_first, losses_last = card["first_losses_mean"], card["last_losses_mean"]
    assert losses_last < 0.75 * losses_first
    for suffix in (".npz", ".json", "-loss.png", "-recon.png"):
        assert (out / f"tiny{suffix}").is_file()
    assert not list(out.glob(".*.new"))
    m = Model(json.loads((out / "tiny.json").read_text()), out)
    x = read_idx(data / "t10k-images-idx3-ubyte.gz")
    y = m.run(x)
    assert y.shape == x.shape and y.dtype == np.uint8
    assert (out / "README.md").read_text().count("tiny") >= 2


def test_a_trained_model_is_usable_through_aezip_models(tmp_path, monkeypatch):
    """`aezip train --out DIR` then AEZIP_MODELS=DIR: the model is found by name (issue 13)."""
    pytest.importorskip("torch")
    pytest.importorskip("matplotlib", reason="training draws its loss plot with matplotlib (the train extra)")
    import aezip
    from aezip import zoo
    from aezip.cli import run

    data = tiny_mnist(tmp_path / "data", n_train=320)
    out = tmp_path / "mine"
    assert run(["train", "--data", str(data), "--out", str(out), "--name", "tiny2", "--epochs", "1",
                "--threads", "1"]) == 0
    monkeypatch.setenv("AEZIP_MODELS", str(out))
    assert zoo.get_model("tiny2").name == "tiny2" and zoo.get_model("rdf32").name == "rdf32"
    x = read_idx(data / "t10k-images-idx3-ubyte.gz")[:5]
    blob = aezip.AezCompressor(model="tiny2", step=1.0).compress(x)
    assert aezip.read_header(blob).model_name == "tiny2" and aezip.decompress(blob).shape == x.shape


def test_train_cli_bad_data_folder(tmp_path):
    from aezip.cli import run

    (tmp_path / "empty").mkdir()
    assert run(["train", "--data", str(tmp_path / "empty"), "--out", str(tmp_path / "o")]) == 1
    assert not (tmp_path / "o").exists()


def test_train_cli_truncated_idx(tmp_path, capsys):
    pytest.importorskip("torch")
    from aezip.cli import run

    data = tiny_mnist(tmp_path / "data", n_train=100)
    raw = (data / "train-images-idx3-ubyte.gz").read_bytes()
    import gzip
    body = gzip.decompress(raw)
    (data / "train-images-idx3-ubyte.gz").write_bytes(gzip.compress(body[:-100]))
    assert run(["train", "--data", str(data), "--out", str(tmp_path / "o"), "--epochs", "1"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "train-images-idx3-ubyte.gz: truncated IDX data" in err[0]
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("raw,msg", [
    (b"\x00\x00", "truncated IDX header"),
    (b"\x00\x00\x09\x03" + b"\x00" * 12, "not an unsigned-byte IDX file"),
    (b"\x12\x34\x08\x03" + b"\x00" * 12, "not an unsigned-byte IDX file"),
    (b"\x00\x00\x08\x03" + b"\x00\x00\x00\x02" + b"\x00\x00\x00\x1c" * 2 + b"\x00" * 10, "truncated IDX data"),
    (b"\x00\x00\x08\x03" + b"\xff\xff\xff\xff" * 3, "over the"),
])
def test_idx_errors_name_the_problem(raw, msg):
    with pytest.raises(BadData, match=msg):
        parse_idx(raw, "x.idx")


def test_idx_roundtrip(tmp_path):
    a = np.arange(2 * 28 * 28, dtype=np.uint8).reshape(2, 28, 28)
    write_idx(a, tmp_path / "a-idx3-ubyte.gz")
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte.gz"), a)
    assert np.array_equal(parse_idx(write_idx(a)), a)


def test_train_task_pixels_trains_a_pixel_model_that_codes(tmp_path):
    """aezip train --task pixels: a tiny pixel model through the CLI, with its card, that the
    pixel coder loads and that round-trips images exactly."""
    pytest.importorskip("torch")
    import json
    from aezip.cli import run
    from aezip.lossless import decode_pixels, encode_pixels
    from aezip.lossless.model import PixelModel
    data = tiny_mnist(tmp_path / "data", n_train=200)
    assert run(["train", "--task", "pixels", "--data", str(data), "--out", str(tmp_path / "out"), "--epochs", "1",
                "--", "--h1", "8", "--h2", "8"]) == 0
    card = json.loads((tmp_path / "out" / "pixel.json").read_text())
    model = PixelModel.load(tmp_path / "out" / "pixel.npz")
    assert card["digest"] == model.digest.hex() and card["test"]["coded_bit_per_px"] > 0
    x = digits_for_tests(20)
    assert (decode_pixels(encode_pixels(x, model=model), len(x), 28, 28, model=model) == x).all()
