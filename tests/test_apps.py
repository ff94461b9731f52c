"""Denoising, up-sampling and pictures: aezip.denoise / aezip.upscale and the
`aezip denoise`, `aezip upscale`, `aezip show` commands."""

import gzip
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip import apps, zoo
from aezip.cli import run
from aezip.metrics import psnr
from aezip.errors import BadInput
from aezip.idx import read_idx, write_idx
from helpers import assert_torch_free

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "samples" / "digits"
SAMPLE_IDX = REPO / "samples" / "t10k-first100-idx3-ubyte.gz"


@pytest.fixture(scope="module")
def x():
    return read_idx(SAMPLE_IDX)


def _mnist_dir():
    d = Path(os.environ.get("AEZIP_MNIST_DIR", REPO.parent / "shared" / "mnist"))
    return d if any((d / f"t10k-images-idx3-ubyte{s}").exists() for s in ("", ".gz")) else None


# --- API ---------------------------------------------------------------------------------------

def test_denoise_shapes_and_dtype(x):
    out = aezip.denoise(x)
    assert out.shape == (100, 28, 28) and out.dtype == np.uint8
    one = aezip.denoise(x[0])
    assert one.shape == (28, 28) and np.array_equal(one, out[0])
    assert aezip.denoise(x[:0]).shape == (0, 28, 28)
    assert np.array_equal(aezip.denoise(x), out)  # deterministic


def test_upscale_shapes_and_dtype(x):
    small = apps.downscale(x)
    assert small.shape == (100, 14, 14) and small.dtype == np.uint8
    out = aezip.upscale(small)
    assert out.shape == (100, 28, 28) and out.dtype == np.uint8
    assert aezip.upscale(small[3]).shape == (28, 28)
    assert aezip.upscale(small[:0]).shape == (0, 28, 28)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((2, 28, 28), np.float32), "uint8"),
    (np.zeros((2, 14, 14), np.uint8), r"\(N, 28, 28\)"),
    (np.zeros((2, 28, 28, 1), np.uint8), r"\(N, 28, 28\)"),
    ("not images", "uint8"),
])
def test_denoise_rejects_bad_input(bad, match):
    with pytest.raises(BadInput, match=match):
        aezip.denoise(bad)


def test_upscale_rejects_28x28(x):
    with pytest.raises(BadInput, match=r"\(N, 14, 14\)"):
        aezip.upscale(x)
    with pytest.raises(BadInput, match="uint8"):
        aezip.upscale(np.zeros((1, 14, 14), np.int64))


def test_wrong_task_model_is_refused(x):
    with pytest.raises(BadInput, match="not a denoise model"):
        apps.denoise(x, model="mlp9")
    with pytest.raises(aezip.UnknownModel):
        apps.upscale(apps.downscale(x), model="no-such-model")


def test_add_noise_is_seeded_and_checked(x):
    a, b = apps.add_noise(x, "gauss:0.3", seed=1), apps.add_noise(x, "gauss:0.3", seed=1)
    assert np.array_equal(a, b) and not np.array_equal(a, apps.add_noise(x, "gauss:0.3", seed=2))
    sp = apps.add_noise(x, "sp:0.1")
    changed = (sp != x).mean()
    assert 0.03 < changed < 0.1  # salt on white ink or pepper on black background changes nothing
    for bad in ("gauss", "blur:1", "gauss:-1", "sp:x"):
        with pytest.raises(BadInput):
            apps.add_noise(x, bad)


def test_median3_removes_isolated_salt():
    img = np.zeros((1, 28, 28), np.uint8)
    img[0, 5, 7] = 255
    assert not apps.median3(img).any()


# --- quality: the models do what they are for ----------------------------------------------------

@pytest.mark.parametrize("spec", ["gauss:0.3", "gauss:0.5", "sp:0.1"])
def test_denoising_improves_psnr(x, spec):
    noisy = apps.add_noise(x, spec, seed=0)
    p_noisy, p_med, p_dn = psnr(noisy, x), psnr(apps.median3(noisy), x), psnr(aezip.denoise(noisy), x)
    assert p_dn > p_noisy + 4, (p_noisy, p_dn)
    assert p_dn > p_med + 1, (p_med, p_dn)


def test_upscale_beats_bicubic(x):
    small = apps.downscale(x)
    p_bic, p_up = psnr(apps.bicubic(small), x), psnr(aezip.upscale(small), x)
    assert p_up > p_bic + 2, (p_bic, p_up)


@pytest.mark.parametrize("name", [apps.DENOISE_MODEL, apps.UPSCALE_MODEL])
def test_numpy_runtime_matches_torch(x, name):
    torch = pytest.importorskip("torch", reason="torch not installed (training extra)")
    from aezip.training.model import build
    from aezip.weights import load_weights

    card = zoo.cards()[name]
    meta, arrays, _ = load_weights(zoo.trained_dir() / card["weights"], expect_sha256=card["sha256"])
    net = build(meta["arch"])
    if meta["task"] == "upscale":
        net.encoder.insert(0, torch.nn.Upsample(scale_factor=2, mode="nearest"))
    net.load_state_dict({k: torch.from_numpy(v.copy()) for k, v in arrays.items()}, strict=True)
    net.eval()
    d = _mnist_dir()
    if d is not None:
        from aezip.idx import load_mnist
        imgs = load_mnist(d, "test")[0][:1000]
    else:
        imgs = np.concatenate([np.roll(x, k, axis=2) for k in range(-5, 5)])  # 1,000 digits
    imgs = apps.add_noise(imgs, "gauss:0.3") if meta["task"] == "denoise" else apps.downscale(imgs)
    m = zoo.get_model(name)
    inp = imgs.astype(np.float32)[:, None] / 255
    got = m.decoder(m.encoder(inp.copy()))
    with torch.no_grad():
        want = net(torch.from_numpy(inp)).numpy()
    assert got.shape == want.shape == (1000, 1, 28, 28)
    assert np.abs(got - want).max() <= 1e-5


def test_models_have_cards_with_commands():
    for name, task in ((apps.DENOISE_MODEL, "denoise"), (apps.UPSCALE_MODEL, "upscale")):
        card = zoo.cards()[name]
        assert card["task"] == task and not card["codec"]
        assert card["command"].startswith("aezip train ") and "--threads 1" in card["command"]
        assert (zoo.trained_dir() / f"{name}-recon.png").exists()


def test_apps_do_not_import_torch():
    assert_torch_free("import aezip.cli.app; aezip.upscale(numpy.zeros((1,14,14),'uint8')); "
                      "aezip.denoise(numpy.zeros((1,28,28),'uint8'))")


# --- CLI -------------------------------------------------------------------------------------------

def _png(path):
    return np.asarray(Image.open(path))


def test_cli_denoise_folder_to_png_folder(tmp_path, capsys):
    out = tmp_path / "clean"
    assert run(["denoise", str(DIGITS), "-o", str(out)]) == 0
    src = sorted(p.relative_to(DIGITS) for p in DIGITS.rglob("*.png"))
    got = sorted(p.relative_to(out) for p in out.rglob("*.png"))
    assert got == src and len(src) == 30
    from aezip.inputs import gather
    want = aezip.denoise(gather([str(DIGITS)]).stack())
    assert np.array_equal(_png(out / src[0]), want[0])
    # a second run refuses to overwrite, -f overwrites
    capsys.readouterr()
    assert run(["denoise", str(DIGITS), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("aezip: error: ") and "already exists" in err and err.count("\n") == 1
    assert run(["denoise", str(DIGITS), "-o", str(out), "-f", "-q"]) == 0


def test_cli_denoise_idx_to_idx(tmp_path, x):
    noisy = apps.add_noise(x, "sp:0.1")
    src = tmp_path / "noisy-idx3-ubyte.gz"
    write_idx(noisy, src)
    dst = tmp_path / "clean.idx"
    assert run(["denoise", str(src), "-o", str(dst)]) == 0
    assert np.array_equal(read_idx(dst), aezip.denoise(noisy))
    npy = tmp_path / "clean.npy"
    assert run(["denoise", str(src), "-o", str(npy), "--format", "npy"]) == 0
    assert np.array_equal(np.load(npy), aezip.denoise(noisy))


def test_cli_denoise_bad_input_writes_nothing(tmp_path, capsys):
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n truncated")
    out = tmp_path / "out"
    assert run(["denoise", str(bad), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"aezip: error: {bad}") and err.count("\n") == 1
    assert run(["denoise", str(tmp_path / "missing.png"), "-o", str(out)]) == 1
    assert "no such file" in capsys.readouterr().err
    assert sorted(os.listdir(tmp_path)) == ["bad.png"]


def test_cli_upscale_png_and_npy(tmp_path, x, capsys):
    small = apps.downscale(x[:5])
    folder = tmp_path / "small"
    folder.mkdir()
    for i, img in enumerate(small):
        Image.fromarray(img).save(folder / f"d{i}.png")
    out = tmp_path / "big"
    assert run(["upscale", str(folder), "-o", str(out)]) == 0
    assert sorted(os.listdir(out)) == [f"d{i}.png" for i in range(5)]
    assert np.array_equal(_png(out / "d2.png"), aezip.upscale(small)[2])
    np.save(tmp_path / "small.npy", small)
    assert run(["upscale", str(tmp_path / "small.npy"), "-o", str(tmp_path / "big.npy")]) == 0
    assert np.array_equal(np.load(tmp_path / "big.npy"), aezip.upscale(small))
    # 28x28 digits are not up-sampled: a one-line error, no output
    capsys.readouterr()
    assert run(["upscale", str(SAMPLE_IDX), "-o", str(tmp_path / "x.idx")]) == 1
    err = capsys.readouterr().err
    assert "expected 14x14 images, found 28x28" in err and err.count("\n") == 1
    assert not (tmp_path / "x.idx").exists()


def test_cli_upscale_stdin_to_stdout(x):
    small = apps.downscale(x[:3])
    import io
    buf = io.BytesIO()
    np.save(buf, small)
    out = subprocess.run([sys.executable, "-m", "aezip", "upscale", "-", "-o", "-"], input=buf.getvalue(),
                         capture_output=True)
    assert out.returncode == 0, out.stderr
    assert np.array_equal(np.load(io.BytesIO(out.stdout)), aezip.upscale(small))


def test_picture_layout(x):
    small = apps.downscale(x[:3])
    img = np.asarray(apps.picture([x[:3], small], scale=2))
    gap, cell = 4, 56
    assert img.shape == (2 * (cell + gap) + gap, 3 * (cell + gap) + gap)
    tile = img[gap:gap + cell, gap + (cell + gap):gap + (cell + gap) + cell]
    assert np.array_equal(tile, x[1].repeat(2, 0).repeat(2, 1))  # originals, enlarged
    tile = img[2 * gap + cell:2 * gap + 2 * cell, gap:gap + cell]
    assert np.array_equal(tile, small[0].repeat(4, 0).repeat(4, 1))  # 14x14 enlarged to the same size
    labelled = apps.picture([x[:3], x[:3]], labels=apps.psnr_labels([20.04, float("inf"), 9.0]), scale=2)
    assert labelled.height > img.shape[0] and labelled.width == img.shape[1]
    assert apps.psnr_labels([20.04, float("inf")]) == ["20.0", "exact"]


def test_cli_show_images(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert run(["show", str(DIGITS), "-o", str(out), "-n", "7"]) == 0
    img = Image.open(out)
    assert img.mode == "L" and img.width == 7 * (28 * 3 + 6) + 6
    assert img.height > 2 * (28 * 3 + 6) + 6  # two rows, a caption and the PSNR labels
    assert run(["show", str(DIGITS), "-o", str(out)]) == 1  # exists, no -f
    assert "already exists" in capsys.readouterr().err
    assert run(["show", str(DIGITS), "-o", str(out), "-f", "--app", "denoise", "-n", "4"]) == 0
    assert run(["show", str(SAMPLE_IDX), "-o", str(out), "-f", "--app", "upscale", "-n", "4"]) == 0
    assert Image.open(out).width == 4 * (28 * 3 + 6) + 6
    assert Image.open(out).height > 3 * (28 * 3 + 6) + 6  # three rows


def test_cli_show_archive(tmp_path, x, capsys):
    arc = tmp_path / "d.aez"
    arc.write_bytes(aezip.compress(x[:30]))
    out = tmp_path / "grid.png"
    assert run(["show", str(arc), "-o", str(out), "-n", "5", "--scale", "2"]) == 0
    img = Image.open(out)
    assert img.width == 5 * (28 * 2 + 4) + 4
    assert img.height < 2 * (28 * 2 + 4) + 4 + 60  # one row: no originals in an archive
    capsys.readouterr()
    assert run(["show", str(arc), str(DIGITS), "-o", str(tmp_path / "g2.png")]) == 1
    assert "not both" in capsys.readouterr().err
    assert run(["show", str(arc), "-o", str(tmp_path / "g3.png"), "--app", "denoise"]) == 1
    damaged = tmp_path / "bad.aez"
    damaged.write_bytes(arc.read_bytes()[:-3])
    assert run(["show", str(damaged), "-o", str(tmp_path / "g4.png")]) == 1
    assert sorted(os.listdir(tmp_path)) == ["bad.aez", "d.aez", "grid.png"]


def test_cli_show_bad_app(tmp_path, capsys):
    assert run(["show", str(DIGITS), "-o", str(tmp_path / "g.png"), "--app", "blur"]) == 1
    assert "must be codec, denoise or upscale" in capsys.readouterr().err
    assert run(["show", str(DIGITS), "-o", str(tmp_path / "g.png"), "--app", "denoise", "--noise", "x:1"]) == 1
    assert run(["show", str(DIGITS), "-o", str(tmp_path / "g.png"), "-n", "0"]) == 1
    assert "--count 0 must be at least 1" in capsys.readouterr().err
    assert not (tmp_path / "g.png").exists()
