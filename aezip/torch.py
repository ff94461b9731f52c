"""A PyTorch dataset over .aez files, with the conventions of ``torchvision.datasets.MNIST``.

::

    from torch.utils.data import DataLoader
    from aezip.torch import AezDataset, to_tensor

    train = AezDataset("train.aez", labels="train-labels-idx1-ubyte.gz", transform=to_tensor)
    loader = DataLoader(train, batch_size=256, shuffle=True, num_workers=2)
    for images, labels in loader:        # float32 (256, 1, 28, 28) in [0, 1], int64 (256,)
        ...

Items are ``(PIL image in mode L, int label)``, or the image alone when there are no
labels; ``transform`` / ``target_transform`` apply to them as in torchvision.
``as_tensor=True`` is the fast path: the image comes as a uint8 tensor (1, H, W) instead
of a PIL image (what ``ToTensor`` gives, before its division by 255).

torchvision is not needed (its wheels on the package registry are CUDA builds that fail
to import beside the CPU torch with "operator torchvision::nms does not exist");
:func:`to_tensor` does what its ``ToTensor`` does for these images.

Decoding: an .aez file has no random access, so each file is decoded whole, on the
first item asked of it, and kept (784 bytes per 28x28 image); *path* may be a list of
.aez files (shards), and then each shard is decoded when first needed.  The dataset
holds paths and labels only until then: it pickles without open files or decoded
pixels, so every ``DataLoader`` worker opens and decodes the file itself.

This is the only aezip module that imports torch; install it as README says
(``pip install torch==2.13.0``, the CPU build).
"""

import bisect
import os

import numpy as np
import torch
from PIL import Image

import aezip
from aezip.errors import BadInput
from aezip.idx import read_idx

__all__ = ["AezDataset", "to_tensor"]


def to_tensor(image):
    """A mode-L PIL image (or uint8 array) as a float32 tensor (1, H, W) in [0, 1], like ToTensor."""
    a = np.asarray(image, dtype=np.uint8)
    return torch.from_numpy(a[None].astype(np.float32)).div_(255)


def _paths(path):
    if isinstance(path, (str, bytes, os.PathLike)):
        return [os.fspath(path)]
    paths = [os.fspath(p) for p in path]
    if not paths:
        raise BadInput("AezDataset: no .aez files given")
    return paths


def _labels(labels, count, where):
    if labels is None:
        return None
    if isinstance(labels, (str, bytes, os.PathLike)):
        where = os.fspath(labels)
        labels = read_idx(labels)
    else:
        where = "labels"
    a = np.asarray(labels)
    if a.ndim != 1 or not (np.issubdtype(a.dtype, np.integer) or a.dtype == bool):
        raise BadInput(f"{where}: labels must be one integer per image, got an array of shape {a.shape} "
                       f"and dtype {a.dtype}")
    if len(a) != count:
        raise BadInput(f"{where}: {len(a)} labels for {count} images")
    return a.astype(np.int64)


class AezDataset(torch.utils.data.Dataset):
    """The images of one or more .aez files as a map-style dataset.

    :param path: an .aez file, or a list of them (read in order, as one dataset).
    :param labels: an IDX label file (raw or .gz, e.g. ``train-labels-idx1-ubyte.gz``),
        or an array of ints, one per image; None for images alone.
    :param transform: applied to each image (a PIL image, or a tensor with *as_tensor*).
    :param target_transform: applied to each int label.
    :param as_tensor: give images as uint8 tensors (1, H, W), not PIL images.
    """

    def __init__(self, path, labels=None, transform=None, target_transform=None, *, as_tensor=False):
        self.paths = _paths(path)
        counts = [aezip.read_header(p).count for p in self.paths]  # checks each file's checksum
        self._starts = np.cumsum([0, *counts]).tolist()
        self.labels = _labels(labels, self._starts[-1], self.paths[0])
        self.transform = transform
        self.target_transform = target_transform
        self.as_tensor = as_tensor
        self._decoded = {}

    @property
    def targets(self):
        """The labels as an int64 tensor (as ``MNIST.targets``), or None."""
        return None if self.labels is None else torch.from_numpy(self.labels)

    def __len__(self):
        return self._starts[-1]

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_decoded"] = {}  # each process decodes for itself
        return state

    def _shard(self, k):
        images = self._decoded.get(k)
        if images is None:
            with open(self.paths[k], "rb") as f:
                images = aezip.decompress(f.read())
            if len(images) != self._starts[k + 1] - self._starts[k]:
                raise aezip.BadAezFile(f"{self.paths[k]}: the file changed since the dataset was made")
            self._decoded[k] = images
        return images

    def image(self, index):
        """The decoded pixels of item *index*, a uint8 array (H, W)."""
        n = len(self)
        i = index + n if -n <= index < 0 else index
        if not 0 <= i < n:
            raise IndexError(f"index {index} out of range for a dataset of {n} images")
        k = bisect.bisect_right(self._starts, i) - 1
        return self._shard(k)[i - self._starts[k]]

    def _positions(self, indices):
        n = len(self)
        i = np.asarray(indices, dtype=np.int64).reshape(-1)
        i = np.where(i < 0, i + n, i)
        bad = (i < 0) | (i >= n)
        if bad.any():
            raise IndexError(f"index {np.asarray(indices).reshape(-1)[bad][0]} out of range for a dataset of {n} images")
        return i

    def images(self, indices):
        """The decoded pixels of several items at once, a uint8 array (len(indices), H, W)."""
        i = self._positions(indices)
        shard = np.searchsorted(self._starts, i, side="right") - 1
        first = self._shard(int(shard[0])) if len(i) else np.zeros((0, 28, 28), np.uint8)
        out = np.empty((len(i), *first.shape[1:]), np.uint8)
        for k in np.unique(shard):
            hit = shard == k
            out[hit] = self._shard(int(k))[i[hit] - self._starts[k]]
        return out

    def __getitems__(self, indices):
        """A batch of items (DataLoader calls this when present): the fast path gathers the
        batch's pixels in one step; PIL items are made one by one, as __getitem__ does."""
        if not self.as_tensor:
            return [self[i] for i in indices]
        batch = torch.from_numpy(self.images(indices)[:, None])
        imgs = list(batch.unbind(0))
        if self.transform is not None:
            imgs = [self.transform(img) for img in imgs]
        if self.labels is None:
            return imgs
        targets = self.labels[self._positions(indices)].tolist()
        if self.target_transform is not None:
            targets = [self.target_transform(t) for t in targets]
        return list(zip(imgs, targets))

    def __getitem__(self, index):
        pixels = self.image(index)
        img = torch.from_numpy(pixels[None].copy()) if self.as_tensor else Image.fromarray(pixels)
        if self.transform is not None:
            img = self.transform(img)
        if self.labels is None:
            return img
        target = int(self.labels[index])
        if self.target_transform is not None:
            target = self.target_transform(target)
        return img, target

    def __repr__(self):
        files = self.paths[0] if len(self.paths) == 1 else f"{len(self.paths)} files"
        return (f"AezDataset({files!r}, {len(self)} images, "
                f"{'labels' if self.labels is not None else 'no labels'}{', as_tensor' if self.as_tensor else ''})")
