"""aezip.torch.AezDataset: torchvision-MNIST-like items from .aez files, in DataLoaders."""

import pickle

import numpy as np
import pytest
from PIL import Image

import aezip
from aezip.idx import write_idx
from helpers import REPO, sample_digits

torch = pytest.importorskip("torch", reason="torch not installed: pip install torch==2.13.0 (the CPU build)")
from torch.utils.data import DataLoader  # noqa: E402

from aezip.torch import AezDataset, to_tensor  # noqa: E402


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("ds")
    x = sample_digits()
    labels = (np.arange(len(x)) * 7 % 10).astype(np.uint8)
    (d / "x.aez").write_bytes(aezip.compress(x))
    write_idx(labels, d / "labels-idx1-ubyte.gz")
    (d / "a.aez").write_bytes(aezip.compress(x[:30]))
    (d / "b.aez").write_bytes(aezip.compress(x[30:], quality=9))
    return d, aezip.decompress((d / "x.aez").read_bytes()), labels


def test_items_follow_torchvision_mnist(files):
    d, want, labels = files
    ds = AezDataset(d / "x.aez", labels=d / "labels-idx1-ubyte.gz")
    assert len(ds) == 100
    img, target = ds[3]
    assert isinstance(img, Image.Image) and img.mode == "L" and img.size == (28, 28)
    assert type(target) is int and target == labels[3]
    np.testing.assert_array_equal(np.asarray(img), want[3])
    np.testing.assert_array_equal(np.asarray(ds[-1][0]), want[-1])
    assert ds.targets.dtype == torch.int64 and ds.targets.tolist() == labels.tolist()
    with pytest.raises(IndexError, match="index 100 out of range"):
        ds[100]


def test_without_labels_an_item_is_the_image_alone(files):
    d, want, _ = files
    ds = AezDataset(d / "x.aez")
    assert isinstance(ds[0], Image.Image)
    assert ds.targets is None


def test_transforms_and_labels_as_an_array(files):
    d, want, labels = files
    ds = AezDataset(str(d / "x.aez"), labels=labels.tolist(), transform=to_tensor,
                    target_transform=lambda t: t + 100)
    img, target = ds[5]
    assert img.dtype == torch.float32 and img.shape == (1, 28, 28)
    assert torch.equal(img, torch.from_numpy(want[5]).float()[None] / 255)
    assert target == labels[5] + 100


def test_as_tensor_fast_path(files):
    d, want, labels = files
    ds = AezDataset(d / "x.aez", labels=labels, as_tensor=True)
    img, target = ds[7]
    assert img.dtype == torch.uint8 and img.shape == (1, 28, 28)
    assert torch.equal(img[0], torch.from_numpy(want[7]))
    img[0, 0, 0] = 255 - img[0, 0, 0]  # the item is a copy: the cache stays right
    assert torch.equal(ds[7][0][0], torch.from_numpy(want[7]))


def test_shards_read_in_order(files):
    d, _, _ = files
    x = sample_digits()
    ds = AezDataset([d / "a.aez", d / "b.aez"], as_tensor=True)
    assert len(ds) == 100
    want = np.concatenate([aezip.decompress(aezip.compress(x[:30])),
                           aezip.decompress(aezip.compress(x[30:], quality=9))])
    got = np.stack([ds[i][0].numpy() for i in range(100)])
    np.testing.assert_array_equal(got, want)
    assert sorted(ds._decoded) == [0, 1]


@pytest.mark.parametrize("labels, message", [
    (np.zeros(99, np.uint8), "99 labels for 100 images"),
    (np.zeros((100, 2), np.uint8), r"shape \(100, 2\)"),
    (np.zeros(100, np.float32), "dtype float32"),
])
def test_bad_labels_are_refused(files, labels, message):
    d, _, _ = files
    with pytest.raises(aezip.BadInput, match=message):
        AezDataset(d / "x.aez", labels=labels)


def test_a_damaged_file_is_refused_when_the_dataset_is_made(tmp_path, files):
    d, _, _ = files
    data = bytearray((d / "x.aez").read_bytes())
    data[40] ^= 1
    (tmp_path / "bad.aez").write_bytes(bytes(data))
    with pytest.raises(aezip.BadAezFile, match="checksum mismatch"):
        AezDataset(tmp_path / "bad.aez")


def test_pickles_without_the_decoded_pixels(files):
    d, want, labels = files
    ds = AezDataset(d / "x.aez", labels=labels)
    before = len(pickle.dumps(ds))
    ds[0]  # decodes and caches the file
    assert ds._decoded
    blob = pickle.dumps(ds)
    assert len(blob) == before < 100 * 784  # paths and labels only
    copy = pickle.loads(blob)
    assert not copy._decoded
    np.testing.assert_array_equal(np.asarray(copy[9][0]), want[9])


@pytest.mark.parametrize("context", ["fork", "spawn"])
def test_dataloader_with_two_workers_gives_the_api_pixels(files, context):
    d, want, labels = files
    ds = AezDataset(d / "x.aez", labels=labels, transform=to_tensor)
    ds[0]  # a cache in the parent must not matter
    loader = DataLoader(ds, batch_size=16, num_workers=2, multiprocessing_context=context)
    images, targets = zip(*loader)
    images = torch.cat(images)
    assert images.shape == (100, 1, 28, 28)
    np.testing.assert_array_equal(np.rint(images[:, 0].numpy() * 255).astype(np.uint8), want)
    assert torch.cat(targets).tolist() == labels.tolist()


def test_dataloader_fast_path_batches_uint8(files):
    d, want, _ = files
    loader = DataLoader(AezDataset(d / "x.aez", as_tensor=True), batch_size=32, num_workers=2, shuffle=False)
    got = torch.cat(list(loader))
    assert got.dtype == torch.uint8
    np.testing.assert_array_equal(got[:, 0].numpy(), want)


@pytest.mark.parametrize("modules", ["aezip.pillow", "aezip.numcodecs, aezip.zarr_codec"])
def test_the_other_integrations_do_not_import_torch(modules):
    import importlib.util
    import subprocess
    import sys
    if modules != "aezip.pillow" and importlib.util.find_spec("zarr") is None:
        pytest.skip("zarr not installed: install the [dask] extra")
    code = f"import sys, aezip, {modules}; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_batched_fetch_equals_item_by_item(files):
    d, want, labels = files
    x = sample_digits()
    for ds in (AezDataset(d / "x.aez", labels=labels, as_tensor=True),
               AezDataset([d / "a.aez", d / "b.aez"], labels=labels, as_tensor=True,
                          target_transform=lambda t: -t)):
        idx = [99, 0, -1, 31, 29, 30, 5]
        batch = ds.__getitems__(idx)
        assert [t for _, t in batch] == [ds[i][1] for i in idx]
        for (img, _), i in zip(batch, idx):
            assert torch.equal(img, ds[i][0])
    with pytest.raises(IndexError, match="index 100 out of range"):
        ds.__getitems__([3, 100])
    plain = AezDataset(d / "x.aez").__getitems__([1, 2])
    assert all(isinstance(im, Image.Image) for im in plain)
