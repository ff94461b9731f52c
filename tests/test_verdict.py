"""The verdict (aezip.verdict): digits pass, non-digits are flagged, the classifier is what its card says."""

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import aezip

from aezip import verdict, zoo
from aezip.codec import AezCompressor
from aezip.inputs import gather, mnist_preprocess

REPO = Path(__file__).resolve().parent.parent
FASHION = Path("/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz")


def _judge(images, quality=zoo.DEFAULT_QUALITY):
    c = AezCompressor(quality)
    codes, psnr = c.encode(images)
    return verdict.judge(images, c.decode(codes), quality, psnr)


def _font():
    from PIL import ImageFont
    for p in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
              "/usr/share/fonts/truetype/liberation/LiberationSans-Regular.ttf"):
        if Path(p).exists():
            return ImageFont.truetype(p, 64)
    return ImageFont.load_default(size=64)


def _letter(ch):
    from PIL import Image, ImageDraw
    img = Image.new("L", (192, 192), 255)
    ImageDraw.Draw(img).text((64, 40), ch, fill=0, font=_font())
    return mnist_preprocess(np.asarray(img, np.float64) / 255)


def test_sample_digits_pass(samples):
    images = gather([samples / "digits"]).stack()
    assert len(images) == 30
    for q in (zoo.DEFAULT_QUALITY, 9):
        flagged, reasons = _judge(images, q)
        assert not flagged.any(), f"q{q}: flagged sample digits {np.flatnonzero(flagged)} ({reasons[flagged]})"


def test_synthetic_non_digits_flagged():
    rng = np.random.default_rng(7)
    noise = rng.integers(0, 256, (4, 28, 28), dtype=np.uint8)
    gray = np.full((3, 28, 28), 128, np.uint8)
    gray[1], gray[2] = 60, 200
    letters = np.stack([_letter(ch) for ch in "AEKRW#@%"])
    images = np.concatenate([noise, gray, letters])
    flagged, reasons = _judge(images)
    assert flagged.all(), f"not flagged: {np.flatnonzero(~flagged)}"
    assert all(verdict.reason_codes(r) for r in reasons)


def test_reason_codes_and_text():
    assert verdict.reason_codes(0) == [] and verdict.describe(0) == ""
    assert verdict.reason_codes(5) == ["poor-reconstruction", "classifier-unsure"]
    assert verdict.reason_codes(2) == ["classifier-disagrees"]
    assert "different" in verdict.describe(verdict.CLASSIFIER_DISAGREES)
    codes = [c for c, _ in verdict.REASONS.values()]
    assert codes == ["poor-reconstruction", "classifier-disagrees", "classifier-unsure"]


def test_psnr_argument(samples):
    images = gather([samples / "digits"]).stack()
    c = AezCompressor(5)
    codes, psnr = c.encode(images)
    recon = c.decode(codes)
    j = verdict.get_judge()
    # computed when not given: the same per-image PSNR as the compressor's
    assert np.array_equal(j.judge(images, recon, 5)[1], j.judge(images, recon, 5, psnr)[1])
    # a PSNR under the floor is poor; inf (stored exactly) never is; NaN is
    low = np.full(len(images), j.psnr_floor[5] - 0.01)
    assert (j.judge(images, recon, 5, low)[1] & verdict.POOR_RECONSTRUCTION).all()
    inf = np.full(len(images), np.inf)
    assert not (j.judge(images, recon, 5, inf)[1] & verdict.POOR_RECONSTRUCTION).any()
    assert (j.judge(images, recon, 5, np.full(len(images), np.nan))[1] & verdict.POOR_RECONSTRUCTION).all()
    # serial (inside a codec worker) gives the same bits
    assert np.array_equal(j.judge(images, recon, 5, psnr, parallel=False)[1], j.judge(images, recon, 5, psnr)[1])
    # quality None: no PSNR reference, the classifier alone
    assert not (j.judge(images, recon, None, low)[1] & verdict.POOR_RECONSTRUCTION).any()


def test_bad_arguments():
    a = np.zeros((2, 28, 28), np.uint8)
    with pytest.raises(ValueError, match="must both be"):
        verdict.judge(a, a[:1], 5)
    with pytest.raises(ValueError, match="quality 10"):
        verdict.judge(a, a, 10)
    with pytest.raises(ValueError, match="psnr has shape"):
        verdict.judge(a, a, 5, np.zeros(3))
    flagged, reasons = verdict.judge(a[:0], a[:0], 5)
    assert flagged.shape == (0,) and reasons.dtype == np.uint8


def test_classifier_card_matches_weights():
    folder = zoo.trained_dir()
    card = json.loads((folder / "digitclf.json").read_text())
    data = (folder / card["weights"]).read_bytes()
    assert len(data) <= 1_000_000
    assert hashlib.sha256(data).hexdigest() == card["sha256"]
    j = verdict.get_judge()
    assert j.meta["thresholds"] == card["thresholds"]
    assert sorted(j.psnr_floor) == list(range(1, 10))
    assert zoo.cards()["digitclf"]["task"] == "classify" and not zoo.cards()["digitclf"]["codec"]
    with pytest.raises(aezip.UnknownModel, match="digit classifier"):
        zoo.get_model("digitclf")   # never taken for a codec model


def test_no_torch_at_run_time():
    code = ("import sys, numpy as np; from aezip import verdict; a = np.zeros((3, 28, 28), 'uint8'); "
            "verdict.judge(a, a, 5); assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)


def test_numpy_forward_equals_torch():
    torch = pytest.importorskip("torch")
    from aezip.training.classifier import load_torch
    from aezip.weights import load_weights
    j = verdict.get_judge()
    _, arrays, _ = load_weights(zoo.trained_dir() / j.card["weights"])
    net = load_torch(arrays, tuple(j.meta["hidden"]))
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.integers(0, 256, (32, 28, 28)), np.stack([_letter("G")] * 2)]).astype(np.uint8)
    with torch.no_grad():
        want = torch.softmax(net(torch.from_numpy(x.reshape(len(x), -1).astype(np.float32) / 255)), 1).numpy()
    got = j.probabilities(x)
    assert np.abs(got - want).max() < 1e-5


@pytest.mark.slow
def test_card_accuracy_recomputed(mnist_dir):
    from aezip.idx import load_mnist
    x, y = load_mnist(mnist_dir, "test")
    j = verdict.get_judge()
    acc = float((j.probabilities(x).argmax(1) == y).mean())
    assert acc == pytest.approx(j.card["measured"]["test_accuracy"], abs=1e-12)
    assert acc > 0.95


@pytest.mark.slow
def test_mnist_test_digits_mostly_pass(mnist_dir):
    from aezip.idx import load_mnist
    x = load_mnist(mnist_dir, "test")[0][:2000]
    flagged, _ = _judge(x)
    assert flagged.mean() <= 0.03


def test_fashion_mnist_flagged():
    if not FASHION.exists():
        pytest.skip(f"Fashion-MNIST not installed ({FASHION}: Debian package dataset-fashion-mnist)")
    from aezip.idx import read_idx
    x = read_idx(FASHION)[:2000]
    flagged, _ = _judge(x)
    assert flagged.mean() >= 0.95


@pytest.mark.slow
def test_training_is_deterministic(mnist_dir, tmp_path):
    pytest.importorskip("torch")
    from aezip.training.classifier import train_classifier
    digests = []
    for run in ("a", "b"):
        card = train_classifier(mnist_dir, tmp_path / run, seed=0, epochs=1, negatives=300, limit=1000,
                                log=lambda *a: None)
        digests.append(card["sha256"])
        assert (tmp_path / run / "digitclf.json").exists()
    assert digests[0] == digests[1]
