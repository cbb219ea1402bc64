"""Datasets and a device-resident batch iterator (lessons 00, 01, 08).

* :func:`digits` — scikit-learn's bundled 8×8 handwritten digits (no internet needed), resized: the offline dataset
  that carries the CPU scale of the lessons.
* :func:`cifar10` — CIFAR-10 through torchvision, cached under ``RESNET_EDU_DATA``; raises
  :class:`DatasetUnavailable` with instructions when it is absent and cannot be downloaded.
* :class:`DeviceLoader` — the whole dataset as one tensor on the device; shuffling and the CIFAR augmentation of
  He et al. 2015, §4.2 (4-pixel padding, random 32×32 crop, horizontal flip) happen on the device.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")


class DatasetUnavailable(RuntimeError):
    """A dataset is not on disk and could not be downloaded."""


@dataclass
class ImageData:
    """Images ``x`` (N, C, H, W float32, normalised) and integer labels ``y`` (N,)."""

    x: torch.Tensor
    y: torch.Tensor
    name: str
    classes: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.y)

    def __repr__(self) -> str:
        shape = tuple(self.x.shape[1:])
        return f"ImageData({self.name}: {len(self)} images of shape {shape}, {len(self.classes)} classes)"

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def in_channels(self) -> int:
        return self.x.shape[1]

    def to(self, device: torch.device | str) -> ImageData:
        return ImageData(self.x.to(device), self.y.to(device), self.name, self.classes)


def digits(size: int = 16, channels: int = 1, train: bool = True, test_fraction: float = 0.2) -> ImageData:
    """scikit-learn's 1,797 handwritten digits, resized from 8×8 to ``size``×``size`` (bilinear), standardised,
    with a fixed seeded stratified train/test split (1,438 / 359 at the default ``test_fraction``).

    ``channels=3`` repeats the grey channel so that CIFAR-shaped networks take it unchanged.
    """
    from sklearn.datasets import load_digits

    if not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an integer >= 8 (the digits are 8x8); got {size!r}")
    if channels not in (1, 3):
        raise ValueError(f"channels must be 1 or 3; got {channels!r}")
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be between 0 and 1; got {test_fraction!r}")
    bunch = load_digits()
    x = torch.tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.long)
    if size != 8:
        x = F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)
    x = (x - x.mean()) / x.std()
    rng = np.random.default_rng(0)
    test_idx = np.concatenate(
        [rng.permutation(np.flatnonzero(bunch.target == c))[: round(test_fraction * (bunch.target == c).sum())]
         for c in range(10)]
    )
    mask = np.zeros(len(y), dtype=bool)
    mask[test_idx] = True
    keep = torch.from_numpy(~mask if train else mask)
    x = x[keep].repeat(1, channels, 1, 1).contiguous()
    split = "train" if train else "test"
    return ImageData(x, y[keep], f"digits {size}x{size} ({split})", tuple(str(i) for i in range(10)))


def data_root(root: str | os.PathLike[str] | None = None) -> Path:
    """Where datasets live: ``root``, else ``$RESNET_EDU_DATA``, else ``~/.cache/resnet_edu``."""
    if root is not None:
        return Path(root)
    env = os.environ.get("RESNET_EDU_DATA")
    return Path(env) if env else Path.home() / ".cache" / "resnet_edu"


def cifar10(root: str | os.PathLike[str] | None = None, train: bool = True, download: bool = True) -> ImageData:
    """CIFAR-10 (50,000 train / 10,000 test 32×32 images) via torchvision, normalised per channel.

    Raises :class:`DatasetUnavailable` with the folder to use when the files are absent and cannot be downloaded.
    """
    from torchvision.datasets import CIFAR10

    folder = data_root(root)
    try:
        ds = CIFAR10(str(folder), train=train, download=download)
    except Exception as err:  # torchvision raises RuntimeError when absent, URLError/OSError when offline
        raise DatasetUnavailable(
            f"CIFAR-10 is not in {folder} and could not be downloaded ({type(err).__name__}: {err}). "
            f"Put cifar-10-python.tar.gz or its extracted folder cifar-10-batches-py/ in {folder}, "
            "or set RESNET_EDU_DATA to the folder that holds it."
        ) from err
    x = torch.from_numpy(ds.data).permute(0, 3, 1, 2).float().div_(255)
    mean = torch.tensor(CIFAR10_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR10_STD).view(1, 3, 1, 1)
    x = ((x - mean) / std).contiguous()
    split = "train" if train else "test"
    return ImageData(x, torch.tensor(ds.targets, dtype=torch.long), f"CIFAR-10 ({split})", CIFAR10_CLASSES)


def augment_crop_flip(x: torch.Tensor, padding: int = 4, generator: torch.Generator | None = None) -> torch.Tensor:
    """He et al. 2015, §4.2: pad each side by ``padding`` zeros, take a random crop of the original size, flip
    horizontally with probability 1/2. Vectorised over the batch, on whatever device ``x`` lives."""
    n, _, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (padding,) * 4)
    oy = torch.randint(0, 2 * padding + 1, (n, 1), device=dev, generator=generator)
    ox = torch.randint(0, 2 * padding + 1, (n, 1), device=dev, generator=generator)
    rows = (oy + torch.arange(h, device=dev)).view(n, 1, h, 1)
    cols = (ox + torch.arange(w, device=dev)).view(n, 1, 1, w)
    batch = torch.arange(n, device=dev).view(n, 1, 1, 1)
    chans = torch.arange(x.shape[1], device=dev).view(1, -1, 1, 1)
    out = padded[batch, chans, rows, cols]
    flip = torch.rand(n, device=dev, generator=generator) < 0.5
    return torch.where(flip.view(n, 1, 1, 1), out.flip(3), out)


class DeviceLoader:
    """Iterate over shuffled mini-batches of a dataset that lives entirely on ``device``.

    One pass of ``for x, y in loader`` is one epoch. Shuffling and augmentation run on the device, so a GPU never
    waits for a CPU data pipeline. With a ``seed`` the order is repeatable.
    """

    def __init__(
        self,
        data: ImageData,
        batch_size: int = 128,
        shuffle: bool = True,
        augment: bool = False,
        device: torch.device | str | None = None,
        drop_last: bool = True,
        seed: int | None = 0,
    ) -> None:
        if not isinstance(batch_size, int) or batch_size <= 0:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        if batch_size > len(data) and drop_last:
            raise ValueError(f"batch_size {batch_size} is larger than the dataset ({len(data)} examples)")
        from .runtime import device as best_device

        self.device = torch.device(device) if device is not None else best_device()
        self.data = data.to(self.device)
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.generator = torch.Generator(device=self.device)
        if seed is not None:
            self.generator.manual_seed(seed)

    def __len__(self) -> int:
        n = len(self.data)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        n = len(self.data)
        order = (torch.randperm(n, device=self.device, generator=self.generator) if self.shuffle
                 else torch.arange(n, device=self.device))
        for i in range(len(self)):
            idx = order[i * self.batch_size:(i + 1) * self.batch_size]
            x = self.data.x[idx]
            if self.augment:
                x = augment_crop_flip(x, generator=self.generator)
            yield x, self.data.y[idx]
