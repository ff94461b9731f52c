"""The CNN rate-distortion models and the quality ladder (issue 5)."""

import numpy as np
import pytest

import aezip
from helpers import digits_for_tests, sample_digits, tiny_mnist
from aezip import archive, zoo  # noqa: F401 (aezip.archive.section_spans)
from aezip.training.cards import STEP_FRACTIONS
from aezip.codec import AezCompressor
from aezip.grid import grid_for
from aezip.weights import load_weights

LADDER_MODELS = sorted({m for m, _ in zoo.LADDER.values()})
RD_MODELS = sorted(n for n, c in zoo.cards().items() if c.get("config", {}).get("quant_noise"))


def _row(name, fraction):
    rows = zoo.cards()[name]["measured"]["quantized"]
    return next(r for r in rows if abs(r["step_fraction"] - fraction) < 1e-5)


def test_ladder_levels_map_to_installed_codec_models():
    assert sorted(zoo.LADDER) == list(range(1, 10))
    assert 1 <= zoo.DEFAULT_QUALITY <= 9
    for q, (name, fraction) in zoo.LADDER.items():
        card = zoo.cards()[name]
        assert card["codec"] and card["task"] == "reconstruct"
        _row(name, fraction)  # measured on the test set by the card (STEP_FRACTIONS + the ladder's steps)


def test_ladder_trades_bytes_for_quality_monotonically():
    rows = [_row(*zoo.LADDER[q]) for q in range(1, 10)]
    sizes = [r["bytes_per_image"] for r in rows]
    psnrs = [r["psnr"] for r in rows]
    assert sizes == sorted(sizes) and len(set(sizes)) == 9
    assert psnrs == sorted(psnrs)


def _stored_psnr(scores):
    """PSNR over all pixels from per-image PSNRs (inf = exact), as the cards compute it."""
    mse = np.where(np.isinf(scores), 0.0, 10.0 ** (-np.asarray(scores, np.float64) / 10)).mean()
    return 10 * np.log10(1 / mse)


@pytest.mark.parametrize("quality", range(1, 10))
def test_card_numbers_hold_on_the_sample_digits(quality):
    """Recomputed, not read: each level's Codes section and PSNR on the 100 shipped test
    digits are near what its card measured on the 10,000 (the header is left out: on 100
    images it adds up to 10 B/image)."""
    _, _, row = zoo.measured_point(quality)
    x = sample_digits()
    comp = AezCompressor(quality)
    data, scores = comp.compress_archive(x)
    (start, end) = aezip.archive.section_spans(data)[0]
    assert (end - start) / len(x) == pytest.approx(row["bytes_per_image"], rel=0.25)
    assert _stored_psnr(scores) == pytest.approx(row["psnr"], abs=0.5)
    assert aezip.metrics.psnr(aezip.decompress(data), x) == pytest.approx(row["psnr"], abs=0.5)


@pytest.mark.slow
def test_card_numbers_are_reproduced_on_the_mnist_test_set(mnist_dir):
    """Every ladder level's bytes per image and PSNR, recomputed on the full test set the
    cards were measured on: the bytes exactly, the PSNR to 0.001 dB."""
    from aezip.idx import load_mnist
    x = load_mnist(mnist_dir, "test")[0]
    for q in range(1, 10):
        _, _, row = zoo.measured_point(q)
        data, scores = AezCompressor(q).compress_archive(x)
        assert len(data) / len(x) == pytest.approx(row["bytes_per_image"], abs=1e-4), q
        assert _stored_psnr(scores) == pytest.approx(row["psnr"], abs=1e-3), q


def test_default_quality_meets_its_budget():
    r = _row(*zoo.LADDER[zoo.DEFAULT_QUALITY])
    assert r["bytes_per_image"] <= 8.0
    assert r["psnr"] >= 17.0


@pytest.mark.parametrize("name", RD_MODELS)
def test_rd_card_matches_weights_and_records_its_command(name):
    card = zoo.cards()[name]
    meta, arrays, digest = load_weights(zoo.trained_dir() / card["weights"], expect_sha256=card["sha256"])
    assert digest == card["sha256"] and card["model_id"] == f"{name}@{card['canonical_sha256'][:16]}"
    assert card["command"].startswith("aezip train ") and f"--arch {card['arch']}" in card["command"]
    assert f"--threads {card['config']['threads']}" in card["command"] and card["config"]["threads"] > 0
    # float16 weights exactly when the card's command asked for them
    dtype = card["config"].get("weights_dtype", "float32")
    assert {a.dtype for a in arrays.values()} == {np.dtype(dtype)}
    assert ("--weights-dtype float16" in card["command"]) == (dtype == "float16")
    cal = meta["calibration"]
    assert len(cal["quant_step"]) == meta["latent_dim"] == len(cal["std"])
    # code dimensions are stored widest first (see aezip.training.model.sort_code_dims)
    assert cal["std"] == sorted(cal["std"], reverse=True)


@pytest.mark.parametrize("name", RD_MODELS)
def test_numpy_runtime_agrees_with_torch(name):
    torch = pytest.importorskip("torch", reason="torch is not installed (training extra)")
    from aezip.training.model import load_torch

    card = zoo.cards()[name]
    meta, arrays, _ = load_weights(zoo.trained_dir() / card["weights"], expect_sha256=card["sha256"])
    model = zoo.get_model(name)
    tm = load_torch(meta, arrays)
    x = digits_for_tests(1000)
    with torch.no_grad():
        xt = torch.from_numpy(x.astype(np.float32) / 255).unsqueeze(1)
        z_t = tm.encoder(xt).numpy()
        y_t = tm.decoder(torch.from_numpy(z_t)).numpy().reshape(len(x), -1)
    z_n = model.encode(x)
    y_n = model.decoder(z_t).reshape(len(x), -1)
    assert np.abs(z_n - z_t).max() <= 1e-5
    assert np.abs(y_n - y_t).max() <= 1e-5


@pytest.mark.parametrize("name", RD_MODELS)
def test_quantizer_of_rate_aware_model_uses_the_trained_grid(name):
    model = zoo.get_model(name)
    unit = np.asarray(model.meta["calibration"]["quant_step"], np.float32)
    mean = np.asarray(model.meta["calibration"]["mean"])
    for fraction in (2.0, 1.0, 0.5):
        q = grid_for(model.meta["calibration"], fraction)
        assert q.sample_size == 1
        np.testing.assert_allclose(q.steps, unit * fraction, rtol=1e-6)
        k = q.offsets / q.steps
        np.testing.assert_allclose(k, np.round(k), atol=1e-4)  # offsets on the step grid
        centre = np.rint((mean - q.offsets) / q.steps)
        assert len(set(centre.tolist())) == 1  # every dimension's mean code is the same byte
    # the trained step (fraction 1) rounds codes to the integers the decoder saw in training
    x = sample_digits()
    z = model.encode(x)
    q = grid_for(model.meta["calibration"], 1.0)
    np.testing.assert_allclose(q.dequantize(q.quantize(z)) / unit, np.round(z / unit), atol=1e-4)


@pytest.mark.parametrize("quality", range(1, 10))
def test_every_quality_level_round_trips_through_the_api(quality):
    x = sample_digits()
    data = aezip.compress(x, quality=quality)
    header = aezip.read_header(data)
    name, _ = zoo.LADDER[quality]
    assert header.model_name == name and header.quality == quality
    out = aezip.decompress(data)
    comp = AezCompressor(quality=quality)
    recon = comp.decode(comp.encode(x)[0])
    assert np.array_equal(out, recon)


def test_mlp9_archives_still_extract():
    x = sample_digits()
    data = AezCompressor(model="mlp9", step=0.125).compress(x)
    assert aezip.read_header(data).model_name == "mlp9"
    out = aezip.decompress(data)
    assert out.shape == x.shape and aezip.metrics.psnr(out, x) > 15


def test_sort_code_dims_keeps_the_function():
    torch = pytest.importorskip("torch", reason="torch is not installed (training extra)")
    from aezip.training.model import build, sort_code_dims

    torch.manual_seed(0)
    m = build("cnn8").eval()
    x = torch.rand(7, 1, 28, 28)
    with torch.no_grad():
        before, z = m(x), m.encoder(x)
        order = np.array([3, 1, 7, 0, 2, 6, 5, 4])
        sort_code_dims(m, order)
        assert torch.equal(m.encoder(x), z[:, order])
        assert (m(x) - before).abs().max().item() < 1e-6


def test_rate_aware_training_writes_a_usable_codec_model(tmp_path):
    pytest.importorskip("torch", reason="torch is not installed (training extra)")
    pytest.importorskip("matplotlib", reason="training draws its loss plot with matplotlib (the train extra)")
    from aezip.training.train import TrainConfig, train

    data = tiny_mnist(tmp_path / "mnist", n_train=256)
    cfg = TrainConfig(arch="cnn8", name="tiny", data=str(data), out=str(tmp_path / "out"), epochs=2,
                      batch_size=64, quant_noise=1.0, rate_weight=0.3, threads=1)
    card = train(cfg, log=lambda m: None)
    assert card["codec"] and card["task"] == "reconstruct"
    rows = card["measured"]["quantized"]
    assert [r["step_fraction"] for r in rows] == [round(f, 6) for f in STEP_FRACTIONS]
    # the coarsest step writes a smaller file than the finest
    assert rows[0]["bytes_per_image"] < rows[-1]["bytes_per_image"]
    meta, _, _ = load_weights(tmp_path / "out" / "tiny.npz")
    assert meta["calibration"]["quant_step"] == [1.0] * 8
